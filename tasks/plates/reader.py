"""The pipeline's plate reader (CandidateReader) and the helpers around a detector + reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tasks.plate_formats import DEFAULT_FORMATS, PlateFormat, normalise, position_options
from tasks.plates.base import Detection, PlateDetector, PlateReader, PlateText, to_bgr
from tasks.plates.recognisers import ALNUM, DEFAULT_RECOGNISERS, Recogniser, load_recogniser

__all__ = [
    "CandidateReader",
    "Read",
    "Scored",
    "confirmed",
    "crop_plate",
    "default_reader",
    "read_plates",
]

_SEAL_PENALTY = 0.95
_DIGIT_0, _LETTER_O = ALNUM.index("0"), ALNUM.index("O")
_REC_HEIGHT = 48  # PP-OCRv4 rec input height
_SETTLED_CHAR = 0.9  # every character at least this sure: the first recogniser's reads settle


@dataclass(frozen=True)
class Read:
    """One recognised string with, per character, a probability over A-Z0-9 (36,)."""

    text: str
    probs: np.ndarray  # (len(text), 36)


@dataclass(frozen=True)
class Scored:
    text: str
    score: float  # ranking score: char confidence x format fit
    confidence: float  # mean probability of the chosen characters
    format: PlateFormat | None


class CandidateReader(PlateReader):
    """Reads a plate from several crops of it and keeps the read that best fits a plate format.

    Why: recognition-only on the whole box also reads state names, slogans, dealer frames and
    the Brazilian city line, and the EU country band. A few vertical sub-crops (one batched
    call per recogniser) give the plain plate line a chance; with several recognisers
    (``recognisers``, see RECOGNISERS) all their reads are candidates, and reads that agree
    support each other. The plate formats choose among the reads and repair confusables (O/0,
    I/1, ...) only where a format demands a letter or digit.
    Decoding is restricted to A-Z0-9 (upper + lower case summed, other symbols act as a
    separator), so a Chinese glyph or punctuation never replaces a plate character.

    ``pad`` is the margin the caller added around the detector box (``crop_plate``'s default);
    the reader also looks at the unpadded box. Tight crops (pad 0) work too.
    """

    # (top, bottom) fractions of the unpadded box height: whole, minus the top band (state
    # names, the BR city line), minus the bottom band (slogans, dealer frames), both.
    _ROWS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.2, 1.0), (0.0, 0.8), (0.15, 0.85))
    _TWO_LINE_MAX_ASPECT = 1.8  # w/h of the box below this: maybe a two-line plate

    def __init__(
        self,
        formats: Sequence[PlateFormat] = DEFAULT_FORMATS,
        pad: float = 0.1,
        intra_op_num_threads: int = 2,
        min_confidence: float = 0.0,
        recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
        providers: Sequence[str] | None = None,
        settle: bool = True,
    ) -> None:
        if not recognisers:
            raise ValueError("CandidateReader needs at least one OCR recogniser")
        self._recognisers = [
            load_recogniser(name, intra_op_num_threads, providers) for name in recognisers
        ]
        self.formats = tuple(formats)
        self.pad = pad
        self.min_confidence = min_confidence
        self.agreement = 0.3  # measured: +5 eu, +1 br, -3 US crops of 108/40/250
        self.settle = settle

    # -- recognition -------------------------------------------------------------------
    def _batch(self, crops: list[np.ndarray]) -> np.ndarray:
        """The sub-crops as one batch for every recogniser, padded to the widest aspect like
        PaddleOCR: only to the widest crop in the batch, not to 320 px, since plates are 2-5x
        wider than tall and the padding is pure compute."""
        ratios = [c.shape[1] / c.shape[0] for c in crops]
        width = int(np.ceil(_REC_HEIGHT * max(ratios)))
        batch = np.zeros((len(crops), 3, _REC_HEIGHT, width), dtype=np.float32)
        for k, (crop, ratio) in enumerate(zip(crops, ratios, strict=True)):
            w = min(width, max(1, int(np.ceil(_REC_HEIGHT * ratio))))
            resized = cv2.resize(crop, (w, _REC_HEIGHT)).astype(np.float32)
            batch[k, :, :, :w] = resized.transpose(2, 0, 1) / 127.5 - 1.0
        return batch

    def _grouped_reads(self, rec: Recogniser, preds: np.ndarray) -> list[Read]:
        """(B, T, C) softmax -> reads. Grouped columns: 0 blank, 1 any other symbol (acts as a
        separator), 2.. A-Z0-9 with upper and lower case summed. Taking 62 columns beats
        masking 6,600 per group."""
        picked = preds[:, :, rec.alnum_cols]
        alnum = np.zeros((*preds.shape[:2], len(ALNUM)), dtype=np.float32)
        for col, g in enumerate(rec.alnum_group):
            alnum[:, :, g] += picked[:, :, col]
        blank = preds[:, :, :1]
        other = np.clip(1.0 - blank - alnum.sum(axis=2, keepdims=True), 0.0, 1.0)
        grouped = np.concatenate([blank, other, alnum], axis=2)
        return [self._decode(frames) for frames in grouped]

    @staticmethod
    def _decode(frames: np.ndarray) -> Read:
        """Greedy CTC over grouped columns; a char's probs come from its most confident frame."""
        best = frames.argmax(axis=1)
        text: list[str] = []
        probs: list[np.ndarray] = []
        prev = -1
        for t, g in enumerate(best):
            g = int(g)
            if g >= 2:
                if g != prev:
                    text.append(ALNUM[g - 2])
                    probs.append(frames[t, 2:])
                elif frames[t, g] > probs[-1][g - 2]:
                    probs[-1] = frames[t, 2:]
            prev = g
        arr = np.stack(probs) if probs else np.zeros((0, len(ALNUM)), dtype=np.float32)
        return Read("".join(text), arr)

    # -- scoring -------------------------------------------------------------------------
    def _score(self, read: Read, formats: Sequence[PlateFormat] | None = None) -> Scored | None:
        if not read.text:
            return None
        plain_conf = float(read.probs.max(axis=1).mean())
        best: Scored | None = None
        one_glyph: np.ndarray | None = None  # probs with O's added to 0's, made once per read
        for fmt in self.formats if formats is None else formats:
            # A pinned format is worth more than "any 2-8 characters"; a swap costs the read its
            # own (low) probability for that character, so a confident 1 is not made an I just
            # because some format wants a letter there.
            fit = 1.0 if fmt.specific else 0.85
            written, all_probs = normalise(read.text, fmt), read.probs
            if fmt.o_is_0:  # one glyph: O's probability is 0's too
                if one_glyph is None:
                    one_glyph = read.probs.copy()
                    one_glyph[:, _DIGIT_0] += one_glyph[:, _LETTER_O]
                    one_glyph[:, _LETTER_O] = 0.0
                all_probs = one_glyph
            for drop in range(fmt.band_letters + 1):
                body, probs = written[drop:], all_probs[drop:]
                if not body or (drop and not read.text[:drop].isalpha()):
                    break
                for layout in fmt.layouts:
                    fitted = _fit_probs(body, probs, layout, fmt.repair, fmt.o_is_0, fmt.seals)
                    if fitted is None:
                        continue
                    text, conf = fitted
                    # A dropped band letter is a small penalty: reading it is a known failure.
                    conf *= 0.97**drop
                    if best is None or conf * fit > best.score:
                        best = Scored(text, conf * fit, conf, fmt)
        if best is None:
            return Scored(read.text, plain_conf * 0.7, plain_conf, None)
        return best

    # -- crops ---------------------------------------------------------------------------
    def _crops(self, crop: np.ndarray) -> list[tuple[str, np.ndarray]]:
        h, w = crop.shape[:2]
        inset = self.pad / (1 + 2 * self.pad) if self.pad > 0 else 0.0
        x1, x2 = round(w * inset), w - round(w * inset)
        y1, y2 = round(h * inset), h - round(h * inset)
        bh = y2 - y1
        out: list[tuple[str, np.ndarray]] = []
        for top, bottom in self._ROWS:
            # Full padded width: a tight box often clips the first or last character.
            sub = crop[y1 + round(bh * top) : y1 + round(bh * bottom), :]
            if min(sub.shape[:2]) >= 4:
                out.append((f"rows{top:.2f}-{bottom:.2f}", sub))
        if (x2 - x1) / max(1, bh) < self._TWO_LINE_MAX_ASPECT:  # square plates only
            mid = y1 + bh // 2
            top_half, bottom_half = crop[y1:mid, x1:x2], crop[mid:y2, x1:x2]
            if min(top_half.shape[:2]) >= 4 and min(bottom_half.shape[:2]) >= 4:
                out.append(("line1", top_half))
                out.append(("line2", bottom_half))
        return out

    def _reads(
        self, crop: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> list[Read]:
        """The recognisers' reads of every sub-crop: the candidates, before any format. The
        next recogniser runs only while the reads so far have not settled (`_settled`)."""
        named = self._crops(crop)
        names = [n for n, _ in named]
        batch = self._batch([c for _, c in named])
        reads: list[Read] = []
        for k, rec in enumerate(self._recognisers):
            if k and self.settle and self._settled(reads, formats):
                break
            per_crop = self._grouped_reads(rec, rec(batch))
            if "line1" in names:  # two-line plate: both halves joined form one more candidate
                r1, r2 = per_crop[names.index("line1")], per_crop[names.index("line2")]
                per_crop = [r for n, r in zip(names, per_crop, strict=True)
                            if n not in ("line1", "line2")]  # fmt: skip
                per_crop.append(Read(r1.text + r2.text, np.concatenate([r1.probs, r2.probs])))
            reads += per_crop
        return reads

    def _settled(self, reads: Sequence[Read], formats: Sequence[PlateFormat] | None) -> bool:
        """One recogniser's reads leave nothing to decide: every sub-crop read the same text,
        it fits a pinned format as read, and every character is sure. A second recogniser
        then only agrees, at the cost of a second model run (about half of the OCR time)."""
        if len(reads) < 3 or len({r.text for r in reads}) != 1:
            return False
        scored = self._score(reads[0], formats)
        return (
            scored is not None
            and scored.format is not None
            and scored.format.specific
            and scored.text == reads[0].text
            and all(float(r.probs.max(axis=1).min()) >= _SETTLED_CHAR for r in reads)
        )

    def read_scored(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> Scored | None:
        """The best candidate; ``formats`` (this crop's region) replace ``self.formats``."""
        if crop_bgr.size == 0 or min(crop_bgr.shape[:2]) < 4:
            return None
        return self.best_of(self._reads(to_bgr(crop_bgr), formats), formats)

    def best_of(
        self, reads: Sequence[Read], formats: Sequence[PlateFormat] | None = None
    ) -> Scored | None:
        scored = [s for s in (self._score(r, formats) for r in reads) if s is not None]
        self.last_candidates = scored  # for benchmarks/debugging: every scored candidate
        if not scored:
            return None
        # Agreement is evidence too: a text read from several crops, or by several recognisers,
        # adds a fraction of each extra read's score to its best one.
        support: dict[str, float] = {}
        for cand in scored:
            support[cand.text] = support.get(cand.text, 0.0) + cand.score
        return max(scored, key=lambda s: s.score + self.agreement * (support[s.text] - s.score))

    def read(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> PlateText | None:
        best = self.read_scored(crop_bgr, formats)
        if best is None or best.confidence < self.min_confidence:
            return None
        fmt = best.format.name if best.format is not None and best.format.specific else None
        return PlateText(text=best.text, confidence=min(max(best.confidence, 0.0), 1.0), format=fmt)


def _fit_probs(
    text: str,
    probs: np.ndarray,
    layout: str,
    repair: bool = True,
    o_is_0: bool = False,
    seal_glyphs: str = "",
) -> tuple[str, float] | None:
    """Force ``text`` onto ``layout`` swapping only confusables; (text, mean char prob)."""
    if len(text) != len(layout):
        return None
    out: list[str] = []
    total = 0.0
    seals = 0
    for ch, p, kind in zip(text, probs, layout, strict=True):
        options = position_options(ch, kind, repair, o_is_0, seal_glyphs)
        if options is None:
            return None
        if not options:  # a sticker or seal read as a character: not part of the plate
            seals += 1
            continue
        ch = max(options, key=lambda c: p[ALNUM.index(c)])  # the likeliest look-alike
        out.append(ch)
        # A swapped char scores its own (lower) probability, so fits needing fewer or more
        # plausible swaps win; floor keeps one odd frame from vetoing the whole read.
        total += max(float(p[ALNUM.index(ch)]), 0.05)
    # Dropping a character is a small penalty, like a dropped country-band letter.
    return "".join(out), total / len(out) * _SEAL_PENALTY**seals


def default_reader(
    formats: Sequence[PlateFormat] = DEFAULT_FORMATS,
    intra_op_num_threads: int = 2,
    recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
    providers: Sequence[str] | None = None,
) -> PlateReader:
    """The reader the pipeline should use: candidates + plate-format repair."""
    return CandidateReader(
        formats=formats,
        intra_op_num_threads=intra_op_num_threads,
        recognisers=recognisers,
        providers=providers,
    )


def crop_plate(
    image_bgr: np.ndarray, box: tuple[float, float, float, float], pad: float = 0.1
) -> np.ndarray:
    """Full-resolution crop of ``box`` grown by ``pad`` x its width/height per side, clipped.

    A little margin keeps the first/last characters intact when the detector box is tight.
    """
    h, w = image_bgr.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    left = int(np.clip(np.floor(x1 - dx), 0, w))
    top = int(np.clip(np.floor(y1 - dy), 0, h))
    right = int(np.clip(np.ceil(x2 + dx), 0, w))
    bottom = int(np.clip(np.ceil(y2 + dy), 0, h))
    return image_bgr[top:bottom, left:right]


def confirmed(det_confidence: float, text: PlateText | None, sure_confidence: float) -> bool:
    """A box is a plate when the detector is sure of it, or when its text fits a plate format.

    Why: the detector's score alone trades recall for false alarms. Small, far or night plates
    score 0.15-0.35 (3 of the 36 plates in the real dashcam frames, 5 of 108 in openalpr_eu),
    and so do tail lights, signs and grilles; those read as nothing or a few characters, while
    the real plates read as text that fits a format (measured on ../shared/data/plates).
    """
    return det_confidence >= sure_confidence or (text is not None and text.format is not None)


def read_plates(
    image_bgr: np.ndarray,
    detector: PlateDetector,
    reader: PlateReader,
    sure_confidence: float | None = None,
    formats: Sequence[PlateFormat] | None = None,
) -> list[tuple[Detection, PlateText | None]]:
    """Detect every plate in the image and read each one (None where unreadable).

    With ``sure_confidence``, boxes scored below it are kept only when `confirmed` by their
    text (the detector then runs with a lower threshold that proposes them). ``formats``: the
    plate formats where the image was taken, instead of the reader's own.
    """
    image = to_bgr(image_bgr)
    out = [
        (det, reader.read(crop_plate(image, det.box), formats)) for det in detector.detect(image)
    ]
    if sure_confidence is None:
        return out
    return [(d, t) for d, t in out if confirmed(d.confidence, t, sure_confidence)]
