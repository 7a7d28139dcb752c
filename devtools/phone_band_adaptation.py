"""Build the offline recogniser's adaptation to the phone line (`stt/phone_band.mllr`).

    python -m devtools.phone_band_adaptation [--out PATH] [--keep DIR]

pocketsphinx's acoustic model was trained on 16 kHz microphone speech; a phone call is 8 kHz
µ-law, so everything above 4 kHz is missing and the rest is coloured by the codec. This script
estimates one global MLLR transform of the model's means (CMU Sphinx's standard speaker /
channel adaptation, `bw` + `mllr_solve` from sphinxtrain) from speech that went through the same
line and the same 8 -> 16 kHz resampler as a call's audio. pocketsphinx applies the transform
when a decoder loads (no cost per frame).

The adaptation speech is synthesised by seven voices of two synthesisers, flite (rms, slt, awb,
kal16) and festival (kal and ked diphones, slt HTS), none of which `make eval` measures with
(hibari and espeak-ng): the evaluation voices stay held out. Its text is the demo agents' own
recogniser phrases, minus every sentence of the evaluation sets.

Needs Debian's `sphinxtrain sphinxbase-utils pocketsphinx flite festival festvox-kallpc16k
festvox-kdlpc16k festvox-us-slt-hts` (build time only; the product only reads the result).
About two minutes on two cores. Deterministic for a given set of phrases.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "calls/realtime/providers/stt/phone_band.mllr"
SPHINXTRAIN = Path("/usr/lib/sphinxtrain")
VOICES = ("flite:rms", "flite:slt", "flite:awb", "flite:kal16", "festival:kal_diphone",
          "festival:ked_diphone", "festival:cmu_us_slt_arctic_hts")
VOICES_PER_PHRASE = 3
TOOLS = {"sphinx_fe": "sphinxbase-utils", "pocketsphinx_mdef_convert": "pocketsphinx",
         "flite": "flite", "text2wave": "festival",
         str(SPHINXTRAIN / "bw"): "sphinxtrain", str(SPHINXTRAIN / "mllr_solve"): "sphinxtrain"}


def missing_tools() -> list[str]:
    return sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def evaluation_sentences() -> set[str]:
    """Every caller utterance of `make eval`'s sets, normalised (kept out of the adaptation)."""
    sentences = set()
    for path in (REPO / "learning/quality/sets").rglob("*.txt"):
        for line in path.read_text().splitlines():
            fields = line.split("|")
            if len(fields) > 1 and not line.startswith("#"):
                sentences.add(" ".join(_words(fields[1])))
    return sentences


def adaptation_phrases() -> list[str]:
    from agents.demo_agents import DEMO_AGENTS
    from calls.realtime.providers.stt.pocketsphinx import _MODELS
    from learning.quality.text import recogniser_vocabulary

    lexicon, held_out = _MODELS.lexicon(), evaluation_sentences()
    phrases = set()
    for demo in DEMO_AGENTS:
        for phrase in recogniser_vocabulary(demo):
            words = _words(phrase)
            if 3 <= len(words) <= 14 and all(w in lexicon for w in words):
                phrases.add(" ".join(words))
    return sorted(phrases - held_out)


def synthesise(text: str, voice: str, scratch: Path) -> bytes:
    engine, name = voice.split(":", 1)
    wav = scratch / "voice.wav"
    if engine == "flite":
        subprocess.run(["flite", "-voice", name, "-t", text, "-o", str(wav)], check=True)
    else:
        subprocess.run(["text2wave", "-eval", f"(voice_{name})", "-o", str(wav)],
                       input=text.encode(), check=True, capture_output=True)
    return wav.read_bytes()


def through_the_line(wav: bytes) -> np.ndarray:
    """16 kHz samples as the recogniser gets them: 8 kHz µ-law, then its own resampler."""
    from calls.realtime.audio import (
        SAMPLE_RATE,
        Upsampler2x,
        pcm16_to_ulaw,
        read_wav,
        ulaw_to_pcm16,
    )
    line = ulaw_to_pcm16(pcm16_to_ulaw(read_wav(wav)))
    pause = np.zeros(SAMPLE_RATE // 4, np.int16)
    resampler = Upsampler2x()  # the recogniser's own
    upsampled = resampler.process(np.concatenate([pause, line, pause]))
    return np.concatenate([upsampled, resampler.flush()]).astype("<i2")


def write_mixture_weights(sendump: str | Path, target: Path) -> None:
    """Sphinx-III mixture weights from pocketsphinx's quantised `sendump` (bw needs them)."""
    data = Path(sendump).read_bytes()
    offset, order = 0, "<I"
    if struct.unpack_from("<I", data)[0] > 65536:
        order = ">I"

    def read_int() -> int:
        nonlocal offset
        value = struct.unpack_from(order, data, offset)[0]
        offset += 4
        return value

    def read_string() -> str | None:
        nonlocal offset
        length = read_int()
        if length == 0:
            return None
        text = data[offset:offset + length - 1].decode()
        offset += length
        return text

    read_string()  # title
    header: dict[str, str] = {}
    while (line := read_string()) is not None:
        key, _, value = line.partition(" ")
        header[key] = value
    shift = int(header.get("mixw_shift", 10))
    features = int(header["feature_count"])
    densities, senones = read_int(), read_int()
    weights = np.empty((senones, features, densities), np.float32)
    for feature in range(features):
        for density in range(densities):
            quantised = np.frombuffer(data, np.uint8, senones, offset).astype(np.int64)
            offset += senones
            weights[:, feature, density] = np.power(1.0001, -(quantised << shift).astype(float))
    with target.open("wb") as out:
        out.write(b"s3\nversion 1.0\n")
        pad = (out.tell() + len("endhdr\n")) & 3
        out.write(b" " * ((4 - pad) if pad else 0) + b"endhdr\n")
        out.write(struct.pack("=i", 0x11223344))
        out.write(struct.pack("=IIII", senones, features, densities, weights.size))
        out.write(weights.astype("<f4").tobytes())


def run(command: list[str], log: Path) -> None:
    with log.open("w") as out:
        subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT)


def build(out: Path, work: Path) -> None:
    from pocketsphinx import get_model_path

    model = work / "en-us"
    shutil.copytree(get_model_path("en-us/en-us"), model)
    run(["pocketsphinx_mdef_convert", "-text", str(model / "mdef"), str(model / "mdef.txt")],
        work / "mdef.log")
    write_mixture_weights(model / "sendump", model / "mixture_weights")

    phrases = adaptation_phrases()
    random.Random(1).shuffle(phrases)
    (work / "raw").mkdir()
    ids, transcripts = [], []
    for index, text in enumerate(phrases):
        for turn in range(VOICES_PER_PHRASE):
            voice = VOICES[(index + turn) % len(VOICES)]
            name = f"u{len(ids):04d}"
            through_the_line(synthesise(text, voice, work)).tofile(work / "raw" / f"{name}.raw")
            ids.append(name)
            transcripts.append(f"<s> {text} </s> ({name})")
    (work / "ids").write_text("\n".join(ids) + "\n")
    (work / "transcripts").write_text("\n".join(transcripts) + "\n")
    print(f"{len(phrases)} phrases, {len(ids)} utterances", file=sys.stderr)

    (work / "mfc").mkdir()
    run(["sphinx_fe", "-argfile", str(model / "feat.params"), "-samprate", "16000",
         "-c", str(work / "ids"), "-di", str(work / "raw"), "-do", str(work / "mfc"),
         "-ei", "raw", "-eo", "mfc", "-raw", "yes", "-input_endian", "little", "-nfft", "512",
         "-remove_silence", "no", "-dither", "no"], work / "fe.log")
    run([str(SPHINXTRAIN / "bw"), "-hmmdir", str(model), "-moddeffn", str(model / "mdef.txt"),
         "-ts2cbfn", ".ptm.", "-feat", "1s_c_d_dd", "-svspec", "0-12/13-25/26-38",
         "-cmn", "current", "-agc", "none", "-dictfn", get_model_path("en-us/cmudict-en-us.dict"),
         "-fdictfn", str(model / "noisedict"), "-ctlfn", str(work / "ids"),
         "-lsnfn", str(work / "transcripts"), "-accumdir", str(work), "-cepdir", str(work / "mfc"),
         "-cepext", "mfc"], work / "bw.log")
    run([str(SPHINXTRAIN / "mllr_solve"), "-meanfn", str(model / "means"),
         "-varfn", str(model / "variances"), "-outmllrfn", str(out), "-accumdir", str(work)],
        work / "mllr_solve.log")
    print(f"wrote {out}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--keep", type=Path, default=None,
                        help="Work in this directory and keep it (logs, features).")
    args = parser.parse_args()
    if missing := missing_tools():
        print(f"missing tools; install them with: apt-get install {' '.join(missing)} "
              "festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")
    import django

    django.setup()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        build(args.out, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="aybiza-adapt-") as work:
            build(args.out, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
