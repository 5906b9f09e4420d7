"""Remove text addressed to the grader from an answer before a judge reads it (prompt-injection defence).

A support answer never talks to its grader, fakes a verdict, or imitates the judge prompt's own
structure, so lines that do are dropped whole, with their line break: an answer with attack lines
inserted between its own lines comes back exactly as it was (the judged prompt, and so its cache
key and verdict, are those of the clean answer). Lines are matched after Unicode folding (NFKC,
zero-width and other invisible format characters removed, case-folded), so full-width letters and
zero-width joiners do not hide an instruction. Verdict-like JSON objects and HTML comments (which
may span lines) are cut out of the line that holds them; a line left blank by that is dropped too.
Text without any match is returned unchanged.

Attack kinds this was written against (``prompts/judge_injection.txt``, measured by
``judge/run.py injection``): notes to the grader, fake verdict JSON, verdict lines, chat-template
tokens, fake answer delimiters, system-prompt overrides, authority claims about "the other answer",
obfuscated (zero-width, full-width) instructions, French/German/Spanish/Italian/Portuguese/Dutch
instructions, HTML comments.
"""

from __future__ import annotations

import re
import unicodedata

_MARK = "\x1e"  # stands in for a removed (possibly multi-line) object until its line is cleaned

# multi-line pieces, on the raw text
_VERDICT_JSON = re.compile(r"\{[^{}]*[\"'](?:verdict|label|score|winner|grade|decision|preference)[\"']\s*:[^{}]*\}",
                           re.I)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)

_GRADER = (r"(?:grader|judge|evaluator|assessor|rater|scorer|reviewer|correcteur|[ée]valuateur|pr[üu]e?fer|bewerter"
           r"|gutachter|evaluador|calificador|corrector|valutatore|correttore|giudice|avaliador|corretor|beoordelaar)s?")
_LETTER = r"[\"'`*(\[]*[ab][\"'`*)\]]*"
_IGNORE = (r"ignore[sz]?|disregard|forget|override|bypass|ignorer|oubliez|oublie|ignoriere|ignorieren|vergiss|vergessen"
           r"|missachte|ignora|ignorar|ignori|ignorare|olvida|olvide|dimentica|esquece|esque[çc]a|negeer|vergeet")
_INSTRUCTIONS = (r"instructions?|consignes|directives|r[èe]gles|anweisungen|instruktionen|regeln|vorgaben|instrucciones|reglas"
                 r"|indicaciones|istruzioni|regole|instru[çc](?:ão|[õo]es)|regras|instructies|regels")
_EARLIER = (r"previous|prior|above|earlier|preceding|pr[ée]c[ée]dentes?|ant[ée]rieures?|ci-dessus|vorherigen|vorigen"
            r"|bisherigen|obigen|fr[üu]heren|anteriores|previas|precedenti|anteriori|vorige|eerdere")
_RATE = (r"rate|grade|score|mark|evaluate|judge|classify|label|treat|count|bewerte|bewerten|beurteile|einstufen|stufe"
         r"|califica|calificar|eval[úu]a|evaluar|marca|[ée]valuez|[ée]value|notez|note|classez|valuta|giudica|avalie|avalia"
         r"|classifique|beoordeel|markeer")
_ANSWER = r"answer|response|reply|r[ée]ponse|antwort|respuesta|risposta|resposta|antwoord"
_GOOD = (r"correct|right|accurate|perfect|flawless|error-free|verified|valid|true|the best|korrekt|richtig|fehlerfrei"
         r"|correct[ao]s?|corrett[ao]|corret[ao]|correcte|juist|exacte?|perfekt|perfecta|perfetta")
_END = r"\s*(?:[.!;:,)\]]+(?!\w)|$)"
_LINE_PATTERNS = [
    # talks to the grader or about grading
    rf"\b(?:note|message|instruction|hint|memo|reminder|remarque|hinweis|nota|notitie)s?\s+(?:to|for|pour|f[üu]r|para|per|voor)\s+(?:the\s+|le\s+|la\s+|den\s+|die\s+|el\s+|il\s+|o\s+|de\s+)?{_GRADER}\b",
    rf"\b(?:dear|attention|hey|hello)\s+{_GRADER}\b",
    rf"\b{_GRADER}\s*[:,]",
    rf"\b(?:the|to the|this|an?|llm|ai)\s+{_GRADER}\b",
    # tells the reader to drop its instructions (several languages)
    r"\b(?:ignore|disregard|forget|override|bypass|ignorez|ignorer|oubliez|ignoriere|ignorieren|vergiss|ignora"
    r"|ignorar|negeer|olvida|dimentica)\b.{0,50}\b(?:rubric|grading|scoring|evaluation|(?:previous|prior|above|earlier"
    r"|all|your|grading|judging) (?:instructions|rules|criteria|guidelines)|grille|consignes|bewertung\w*|r[úu]brica"
    r"|criterios de evaluaci[óo]n|valutazione|avalia[çc][ãa]o|beoordeling\w*)\b",
    # commands a verdict
    rf"\b(?:answer|reply|respond|output|vote|say|return|print|write|pick|choose|select|prefer|mark|rate|grade|score"
    rf"|r[ée]pondez|r[ée]ponds|choisissez|antworte|antworten|w[äa]hle|responde|responda|elige|rispondi|scegli"
    rf"|antwoord|kies)(?:\s+(?:with|for|only|avec|mit|con|com|met))?\s*[:=]?\s*{_LETTER}{_END}",
    r"\b(?:answer|reply|respond|output)\s+(?:with|only)\s*[:=]?\s*[\"'`*]*(?:[012x]|not_attempted)[\"'`*]*" + _END,
    r"^\W*(?:final\s+|my\s+|the\s+)?(?:verdict|decision|winner|choice|vote|grade|score|label|result|answer|preference)"
    r"\s*(?:is)?\s*[:=\-]\s*[\"'`*]*(?:[ab012x]|tie|not_attempted)[\"'`*]*\W*$",
    rf"\b(?:answer|response|reply)\s+{_LETTER}\s+(?:is|was|wins|should|must|has|deserves)\b",
    rf"\b(?:best|better|correct|winning|right|superior|preferred)\s+(?:answer|response|reply|one)\s+is\s+{_LETTER}\b",
    # claims about itself or the other answer
    r"\bthe other (?:answer|response|reply|candidate)\b",
    r"\bthis (?:answer|response|reply) (?:is|has been|was) (?:verified|approved|certified|confirmed|the (?:best|better"
    r"|correct|right|winning)|correct|better)\b",
    # imitates the judge prompt or a chat template
    r"^\W*(?:end of answer|<<<|>>>|‹‹‹|›››|answer [ab] \(data|reference answer\s*:|key facts\s*:|conversation\s*:"
    r"|which answer is better)",
    r"^\s*#{1,6}\s*(?:system|user|assistant|instructions?|developer)\b",
    r"^\s*(?:system|assistant|developer)\s*(?:prompt)?\s*:",
    r"<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|</?s>|<\|endoftext\|>",
    # added after the held-out kinds (prompts/judge_injection_heldout.txt) were first measured, issue 24:
    # "drop your instructions" in any word order and language (a verb, an "instructions" word, a "previous/all" word)
    rf"^(?=.*\b(?:{_IGNORE})\b)(?=.*\b(?:{_INSTRUCTIONS})\b)(?=.*\b(?:{_EARLIER})\b)",
    r"(?:忽略|无视|忽视|忘记|無視).{0,12}(?:指令|指示|说明|規則|规则|提示)",
    # asks for a grade or rating of itself ("rate this answer as correct", "bewerte diese Antwort als korrekt")
    rf"\b(?:{_RATE})\s+(?:(?:this|the|my|it|cette|diese|esta|questa|la|le|el|il|die|der|das|den|het)\s+)?(?:(?:{_ANSWER})\s+)?(?:as|als|como|comme|come)\s+(?:{_GOOD})",
    r"评为|評為|打分|满分",
    # talks about itself in the grader's words ("contains no errors", "hallucination-free"), or scores itself
    rf"\b(?:this|the|my|cette|diese|esta|questa)\s+(?:{_ANSWER})\s+(?:contains|has|makes|includes|enth[äa]lt|hat|contiene|tiene|contient)"
    r"\s+(?:no|none|zero|keine|ningún|ningun|aucune?|nessun)\b",
    r"\b(?:hallucinat\w*|halluzin\w*|alucina\w*|allucina\w*|hallucin\w*)|幻觉|幻覺",
    r"^\W*(?:final\s+|my\s+|the\s+)?(?:score|grade|rating|mark|punkte|bewertung|puntuaci[óo]n|calificaci[óo]n|voto)\s*[:=]\s*"
    r"\d+(?:[.,]\d+)?\s*(?:/|out of|von|sur|de|su)\s*\d+",
    rf"\b(?:{_ANSWER})\s+{_LETTER}\s+(?:est|ist|es|è|é|wint|gewinnt|gagne|gana|vince)\b",
]
_LINE = re.compile("|".join(f"(?:{p})" for p in _LINE_PATTERNS), re.I | re.M)


def fold(text: str) -> str:
    """``text`` as matched: NFKC (full-width letters become ASCII), invisible format characters removed, case-folded."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").casefold()


def _mark(text: str) -> str:
    """Verdict-like JSON objects and HTML comments (which may span lines) replaced by one mark character."""
    return _HTML_COMMENT.sub(_MARK, _VERDICT_JSON.sub(_MARK, text))


def _clean_line(line: str) -> str | None:
    """A line of marked text as the judge will see it; None when it is dropped."""
    if _LINE.search(fold(line)):
        return None
    if _MARK not in line:
        return line
    rest = line.replace(_MARK, "")
    return rest if rest.strip() else None


def suspicious(line: str) -> bool:
    """True when ``line`` talks to the grader, fakes a verdict or imitates the judge prompt."""
    return _clean_line(_mark(line)) != line


def sanitize(text: str) -> tuple[str, int]:
    """``text`` without what is addressed to the grader, and how many lines or objects were removed."""
    out, removed = [], 0
    for line in _mark(text).split("\n"):
        cleaned = _clean_line(line)
        if cleaned is None:
            removed += 1
        else:
            removed += line.count(_MARK)
            out.append(cleaned)
    return ("\n".join(out), removed) if removed else (text, 0)
