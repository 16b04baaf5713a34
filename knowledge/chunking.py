"""Cut an extracted document into chunks small enough to embed and to read out to a model.

Rules, in order: a chunk never spans two sections (headings); it ends at a sentence or line
boundary; consecutive chunks of a section share up to ``chunk_overlap`` tokens of whole
trailing sentences, so a fact cut at a boundary is still found whole; only a sentence longer
than a chunk is cut mid-sentence, into pieces that overlap by ``chunk_overlap`` tokens. Each
chunk's text starts with its heading path ("Returns > Warranty"), so headings are matched by
both keyword and vector search. A Q/A pair is always exactly one chunk, however long.

Tokens are counted with a regex (runs of word characters, and each other non-space
character), not a model tokenizer: it is free, deterministic and the same for every
embedding model. On English prose it counts 10-20% fewer tokens than BERT word pieces, so the
default chunk size of 180 keeps a chunk inside MiniLM's 256-word-piece input limit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from knowledge.extraction import ExtractedDocument, Section

DEFAULT_CHUNK_SIZE = 180
DEFAULT_CHUNK_OVERLAP = 30
HEADING_SEPARATOR = " > "

_TOKEN = re.compile(r"\w+|[^\w\s]")
# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) and a space.
# Abbreviations ("Dr. Smith") split too early; harmless, as sentences are packed together.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    text: str
    token_count: int
    content_hash: str
    heading_path: tuple[str, ...] = ()


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def chunk_document(
    document: ExtractedDocument,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
) -> list[Chunk]:
    """Chunks in document order, ordinals from 0. The same input always gives the same chunks."""
    if chunk_size < 16:
        raise ValueError("chunk_size must be at least 16 tokens.")
    if not 0 <= chunk_overlap < chunk_size // 2:
        raise ValueError("chunk_overlap must be at least 0 and less than half of chunk_size.")

    texts: list[tuple[str, tuple[str, ...]]] = [
        (f"Q: {pair.question}\nA: {pair.answer}", ()) for pair in document.qa_pairs
    ]
    for section in document.sections:
        texts.extend(
            (text, section.heading_path)
            for text in _section_texts(section, chunk_size=chunk_size, overlap=chunk_overlap)
        )
    return [
        Chunk(
            ordinal=ordinal,
            text=text,
            token_count=count_tokens(text),
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            heading_path=heading_path,
        )
        for ordinal, (text, heading_path) in enumerate(texts)
    ]


@dataclass(frozen=True, slots=True)
class _Unit:
    """A sentence (or a piece of an overlong one), the smallest thing a chunk is built from."""

    text: str
    tokens: int
    starts_line: bool


def _section_texts(section: Section, *, chunk_size: int, overlap: int) -> list[str]:
    prefix = HEADING_SEPARATOR.join(section.heading_path)
    prefix = f"{prefix}\n" if prefix else ""
    # The heading counts against the size; a silly-long heading path still leaves room.
    budget = max(chunk_size - count_tokens(prefix), chunk_size // 2)

    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    used = 0
    for unit in _units(section.text, budget=budget, overlap=overlap):
        if current and used + unit.tokens > budget:
            chunks.append(current)
            current = _overlap(current, overlap=overlap, room=budget - unit.tokens)
            used = sum(u.tokens for u in current)
        current.append(unit)
        used += unit.tokens
    if current:
        chunks.append(current)
    return [prefix + _join(units) for units in chunks]


def _units(text: str, *, budget: int, overlap: int) -> list[_Unit]:
    units: list[_Unit] = []
    for line in text.split("\n"):
        starts_line = True
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            tokens = count_tokens(sentence)
            if not tokens:
                continue
            pieces = _split_tokens(sentence, tokens=tokens, budget=budget, overlap=overlap)
            for piece, piece_tokens in pieces:
                units.append(_Unit(text=piece, tokens=piece_tokens, starts_line=starts_line))
                starts_line = False
    return units


def _split_tokens(
    sentence: str, *, tokens: int, budget: int, overlap: int
) -> list[tuple[str, int]]:
    """Cut a sentence longer than ``budget`` into pieces of at most ``budget`` tokens that
    share ``overlap`` tokens, slicing the original text at token starts so spacing and
    punctuation survive."""
    if tokens <= budget:
        return [(sentence, tokens)]
    starts = [m.start() for m in _TOKEN.finditer(sentence)]
    pieces: list[tuple[str, int]] = []
    for first in range(0, tokens, budget - overlap):
        last = min(first + budget, tokens)
        end = starts[last] if last < tokens else len(sentence)
        pieces.append((sentence[starts[first] : end].strip(), last - first))
        if last == tokens:
            break
    return pieces


def _overlap(units: list[_Unit], *, overlap: int, room: int) -> list[_Unit]:
    """The trailing whole units of the finished chunk that fit in ``overlap`` tokens and still
    leave room for the next unit."""
    limit = min(overlap, room)
    kept: list[_Unit] = []
    used = 0
    for unit in reversed(units):
        if used + unit.tokens > limit:
            break
        kept.insert(0, unit)
        used += unit.tokens
    return kept


def _join(units: list[_Unit]) -> str:
    parts = [units[0].text]
    for unit in units[1:]:
        parts.append(("\n" if unit.starts_line else " ") + unit.text)
    return "".join(parts)
