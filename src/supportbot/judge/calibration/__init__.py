"""Agreement with the labels and the values a main run applies: the one out-of-fold fitter (fit.py), the
holistic (holistic.py, holistic_labels.py) and checklist (checklist.py) measurements, `judge/run.py agreement`
(agreement.py)."""
