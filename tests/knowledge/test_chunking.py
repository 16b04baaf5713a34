from __future__ import annotations

import hashlib
import re

import pytest

from knowledge.chunking import chunk_document, count_tokens
from knowledge.extraction import ExtractedDocument, QAPair, Section, SourceType, extract_document

SENTENCES = [f"Sentence {i} says that item {i} costs {i} euros." for i in range(40)]


def prose(*sections: Section) -> ExtractedDocument:
    return ExtractedDocument(source_type=SourceType.TEXT, sections=sections)


def test_tokens_are_words_and_single_punctuation_marks():
    assert count_tokens("Don't panic: it's 9.30!") == 12
    assert count_tokens("  \n ") == 0


def test_chunks_stay_within_the_size_and_end_at_sentence_boundaries():
    chunks = chunk_document(
        prose(Section((), " ".join(SENTENCES))), chunk_size=60, chunk_overlap=12
    )

    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.token_count == count_tokens(chunk.text) <= 60
        assert chunk.text.startswith("Sentence ") and chunk.text.endswith("euros.")


def test_consecutive_chunks_share_whole_trailing_sentences_within_the_overlap():
    chunks = chunk_document(
        prose(Section((), " ".join(SENTENCES))), chunk_size=60, chunk_overlap=12
    )

    for previous, current in zip(chunks, chunks[1:], strict=False):
        shared = re.match(r"Sentence \d+ says that item \d+ costs \d+ euros\.", current.text)[0]
        assert previous.text.endswith(shared)
        assert count_tokens(shared) <= 12
    # Nothing is lost: every sentence is in some chunk, in order.
    joined = " ".join(chunk.text for chunk in chunks)
    positions = [joined.find(sentence) for sentence in SENTENCES]
    assert -1 not in positions and positions == sorted(positions)


def test_without_overlap_the_chunks_partition_the_text():
    text = " ".join(SENTENCES)

    chunks = chunk_document(prose(Section((), text)), chunk_size=60, chunk_overlap=0)

    assert " ".join(chunk.text for chunk in chunks) == text


def test_chunks_are_prefixed_with_their_heading_path_and_never_span_two_sections():
    document = prose(
        Section(("Returns",), "Return within 30 days."),
        Section(("Returns", "Warranty"), " ".join(SENTENCES[:12])),
    )

    chunks = chunk_document(document, chunk_size=60, chunk_overlap=0)

    assert chunks[0].text == "Returns\nReturn within 30 days."
    assert chunks[0].heading_path == ("Returns",)
    assert len(chunks) > 2
    for chunk in chunks[1:]:
        assert chunk.text.startswith("Returns > Warranty\nSentence ")
        assert chunk.heading_path == ("Returns", "Warranty")
        # The heading counts against the size.
        assert chunk.token_count <= 60


def test_line_breaks_are_kept_inside_a_chunk():
    chunks = chunk_document(prose(Section((), "- Two years on parts.\n- One year on labour.")))

    assert [chunk.text for chunk in chunks] == ["- Two years on parts.\n- One year on labour."]


def test_an_overlong_sentence_is_cut_by_tokens_into_overlapping_pieces():
    words = [f"w{i}" for i in range(130)]

    chunks = chunk_document(
        prose(Section((), " ".join(words) + ".")), chunk_size=60, chunk_overlap=10
    )

    assert [chunk.token_count for chunk in chunks] == [60, 60, 31]
    assert [chunk.text.split()[0] for chunk in chunks] == ["w0", "w50", "w100"]
    assert chunks[0].text.split()[-10:] == chunks[1].text.split()[:10]
    assert chunks[-1].text.endswith("w129.")


def test_each_question_and_answer_pair_is_exactly_one_chunk():
    long_answer = " ".join(SENTENCES)
    document = ExtractedDocument(
        source_type=SourceType.CSV,
        qa_pairs=(QAPair("When do you open?", "At 9."), QAPair("Prices?", long_answer)),
    )

    chunks = chunk_document(document, chunk_size=60, chunk_overlap=10)

    assert [chunk.text for chunk in chunks] == [
        "Q: When do you open?\nA: At 9.",
        f"Q: Prices?\nA: {long_answer}",
    ]


def test_chunks_are_numbered_hashed_and_deterministic():
    document = extract_document(
        data=b"# Returns\n\n" + " ".join(SENTENCES).encode() + b"\n\n## Warranty\nTwo years.",
        filename="policies.md",
    )

    chunks = chunk_document(document, chunk_size=60, chunk_overlap=12)

    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()
        assert chunk.text.strip()
    assert chunks[-1].text == "Returns > Warranty\nTwo years."
    assert chunk_document(document, chunk_size=60, chunk_overlap=12) == chunks


def test_lines_without_words_do_not_produce_empty_chunks():
    chunks = chunk_document(prose(Section((), "   \n\n"), Section(("A",), "Real text.")))

    assert [chunk.text for chunk in chunks] == ["A\nReal text."]


@pytest.mark.parametrize(("size", "overlap"), [(8, 0), (60, 30), (60, -1)])
def test_unusable_settings_are_rejected(size, overlap):
    with pytest.raises(ValueError):
        chunk_document(prose(Section((), "Text.")), chunk_size=size, chunk_overlap=overlap)
