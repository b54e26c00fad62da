"""Words that stay true: no run number typed into a chapter's prose.

A number that describes a run (an accuracy, an interval, a p-value, a count of clips, steps or epochs, a duration, a loss)
must be printed by code from the run's objects, so that re-running the chapter updates it. This test reads every markdown
cell of every chapter and fails on such a number unless
- its sentence quotes the paper with its section (`section V`, `Table I`, `Fig. 11`, `(IV.A)`),
- it is one of the constants below (a number the paper or the config fixes, or arithmetic on them), each with its reason,
- or its cell opens with `<!-- not a run: REASON -->` (a worked example, or arithmetic on the paper's Table I).
Numbers inside code spans and math are not prose and are not read."""
import json, re
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parents[1]/'nbs'
NUM = r'(?<![\w.])(?!0\d)\d[\d,]*(?:\.\d+)?'     # not a chapter number like 06
SPELLED = r'(?:a tenth|a hundredth|a thousandth|a half|half|a quarter|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty|a few|several)'
RUN_NUMBERS = [
    (re.compile(rf'{NUM}\s?%'), 'a percentage'),
    (re.compile(r'±\s?\d'), 'a ± width'),
    (re.compile(r'\bp\s?(?:=|<|>|≤|≥|≈|&lt;|&gt;)\s?0?\.\d', re.I), 'a p-value'),
    (re.compile(rf'(?<!chapter ){NUM}\s+(?:(?!(?:k?Hz|times)\b)[a-z][a-z-]{{2,}}\s+){{0,2}}?(?:clips?|tracks?|songs?|steps?|epochs?)\b', re.I), 'a count'),
    (re.compile(rf'{NUM}\s*(?:s|secs?|seconds?|min|minutes?|h|hours?|ms|MB|GB|GiB|MiB|KB|points?)\b', re.I), 'a duration or size'),
    (re.compile(rf'\bloss(?:es)? (?:of |is |was |falls to |reaches |from )?{NUM}', re.I), 'a loss'),
    (re.compile(rf'\b{SPELLED}\s+(?:of an?\s+)?(?:seconds?|minutes?|hours?)\b', re.I), 'a spelled-out duration'),
]
QUOTES_THE_PAPER = re.compile(r"\bsection [IVX]+|\bTable I\b|\bFig\. ?\d+|\(\s*[IVX]+(?:\.[A-Z])?\s*\)")
NOT_A_RUN = re.compile(r'<!--\s*not a run:\s*\S.*?-->', re.S)
EXERCISE = re.compile(r'\*\*\d+[a-z]?\.\d+\*\*')      # an exercise's question (`**07.2** ...`): its numbers are the question's data

CONSTANTS = {   # the flagged text -> why it is not a run's number
    '5.9 s': "a crop: 2**18 samples at 44.1 kHz (config)", '30 s': "an FMA clip's length (config clip_seconds)",
    '95%': "the confidence level of every interval", '5%': "the significance level of every test",
    '12.5%': "chance with 8 balanced genres: 1/8", '78%': "chance's one-vs-rest accuracy with 8 genres: 1 - 2(1 - 1/8)/8",
    '78.1%': "the same, to one decimal", '7.2 GiB': "the size of fma_small.zip (FMA's release)",
    '8,000 clips': "FMA small's size (section IV.A)", '800 clips': "FMA small's test split", '7,994 clips': "FMA small after cleaning",
    '64 steps': "the networks' time steps before pooling: 2**18 / 2 / 2048 (architecture)", '93 ms': "one such step: 2048 samples at 22.05 kHz",
    '92.9 ms': "the same, to one decimal", '23 ms': "n_fft = 1024 samples at 44.1 kHz", '11.6 ms': "the hop: 512 samples at 44.1 kHz",
    '2.9 ms': "the first 1D kernel: 64 samples at 22.05 kHz", '16 steps': "a drum pattern's steps per 4/4 bar (01a)",
    '12 steps': "a 3/4 bar's steps (01a)", '15 %': "the synthetic stand-in's default borrow probability (config)",
    '7 %': "0.85**16, arithmetic on that default", '20 epochs': "the paper's budget (config paper_epochs)",
    '10 epochs': "the paper's budget for the CRNN (config)", 'p = 0.5': "the augmentations' probability (config)",
    '32 MiB': "a batch of 32 float32 crops of 2**18 samples", '32 MB': "the noise table: 2**23 float32 samples (02)", '2 MiB': "a huge page", '67 MB': "32 complex spectrograms of a crop",
    '635 MB': "an hour of float32 samples at 44.1 kHz",
    '94.5%': "the resampler's rolloff setting", '1%': "a 13 kHz tone's residue after the filter, printed below it (03)",
    '3 seconds': "the length of the audio players", '5 seconds': "the length of the audio players", 'half second': "a figure's span",
    '1024 points': "the FFT size", '74%': "the architectures' weight shares, printed by the layer tables (05)",
    '50%': "an accuracy to size an interval", '10%': "an accuracy to size an interval", '90%': "an accuracy to size an interval",
    '99%': "the end of a range of true accuracies in a coverage plot", '7, epoch': "an example epoch",
    '6 clips': "the test run's clips per genre (config TEST_SIZES)", '8 s': "the test run's clip length (config TEST_SIZES)",
    '70 %': "an example accuracy", '22 tracks': "the FMA-small tracks among the first 200 of the real tracks.csv (fixtures)",
    '2.4 parts per song': "16 parts x the default borrow probability 0.15", '800 training clips': "FMA small's training split per genre",
    '20 numbers per clip': "the config's 20 MFCCs", '0.7%': "our CRNN's weight count against the paper's (architecture arithmetic)",
    '64 time steps': "the architecture's time steps (see '64 steps')", '800 test clips': "FMA small's test split",
    '20%': "the mel scales' gap, arithmetic on their formulas (03)", '2%': "LRScheduleCB's final learning rate, a fraction of cfg.lr",
    'two seconds': "the length of the audio players (08a)", '1.6 GiB': "FMA metadata, extracted", '7 GiB': "the size of fma_small.zip, rounded",
}

def sentences(md: str):
    md = re.sub(r'\$\$.*?\$\$', ' ', md, flags=re.S)
    for para in re.split(r'\n\s*\n|\n(?=[-*] |\d+\. |#)', md):
        yield from (s.strip() for s in re.split(r'(?<=[.!?:;])\s+(?=[A-Z(*])', para))

def prose(s: str) -> str:
    "A sentence without its code spans, inline math, link targets and HTML comments."
    for rx in (r'<!--.*?-->', r'`[^`]*`', r'\$[^$]*\$', r'\]\([^)]*\)'): s = re.sub(rx, ' ', s, flags=re.S)
    return s

def typed_run_numbers(md: str) -> list[tuple[str, str, str]]:
    "(text, kind, sentence) for every number in markdown `md` that reads like a run's and is not excused."
    if NOT_A_RUN.match(md.lstrip()) or EXERCISE.match(md.lstrip()): return []
    out = []
    for s in sentences(md):
        if QUOTES_THE_PAPER.search(s): continue
        text = prose(s)
        out += [(m.group(0), kind, s) for rx, kind in RUN_NUMBERS for m in rx.finditer(text) if m.group(0) not in CONSTANTS]
    return out

def chapter_markdown():
    for nb in sorted(NBS.glob('*.ipynb')):
        for i, cell in enumerate(json.loads(nb.read_text())['cells']):
            if cell['cell_type'] == 'markdown': yield nb.name, i, ''.join(cell['source'])

def test_no_chapter_types_a_run_number():
    bad = [f"{nb} cell {i}: {text!r} ({kind}) in: {s[:160]}" for nb, i, md in chapter_markdown() for text, kind, s in typed_run_numbers(md)]
    assert not bad, ("numbers that describe a run are typed into prose; print them from the run's objects "
                     "(e.g. a Markdown output built with an f-string), quote the paper with its section, or add a constant "
                     "with its reason to tests/test_prose.py:\n" + '\n'.join(bad))

def test_every_excused_constant_is_still_used():
    "A constant nobody writes any more is removed, so the list stays a list of reasons, not a way around the check."
    text = '\n'.join(prose(md) for _, _, md in chapter_markdown())
    assert not [c for c in CONSTANTS if c not in text]

# The examples an audit found in the chapters (issue 18), put back: each must be caught.
TYPED = [
    "The run's sizes depend on who is running: a reader gets 40 clips of 12 s per genre and 4 epochs by default (the whole experiment then runs in about ten minutes on two CPU cores).",
    "A test split of N clips measures top-1 accuracy with an error: with the synthetic stand-in's 32 test clips, about ±17 (computed below).",
    "On a dataset of 160 clips per genre, split 100/30/30, it classified 46.3 % of the 240 test clips correctly (44.7 % in 5-fold cross-validation).",
    "A training step of a paper network on a batch of 32 crops takes a tenth of a second or less on a CPU core.",
    "The two ensembles are not told apart from the Mel CNN (p 0.44 and p = 0.66).",
    "The validation loss falls to 1.297 by the last epoch.",
]

@pytest.mark.parametrize('sentence', TYPED)
def test_the_check_catches_a_typed_run_number(sentence):
    assert typed_run_numbers(sentence)

def test_what_is_excused_is_excused():
    assert not typed_run_numbers("Its Mel CNN scores a recall of 47.4% (Table I).")                 # the paper, with its section
    assert not typed_run_numbers("A crop of `2**18` samples lasts 5.9 s, an FMA clip 30 s.")        # constants
    assert not typed_run_numbers("<!-- not a run: a made-up example -->\nB is right on 25 of 30 clips, 2.5 points.")
    assert not typed_run_numbers("Run `mgr reproduce --steps 2000` for 4 times the budget.")        # code is not prose
    assert typed_run_numbers("<!-- a comment -->\nB is right on 25 of 30 clips, 2.5 points.")      # only the marker excuses
    assert not typed_run_numbers("**07a.1** (quick). A model gets 168 of a test split's 240 clips right.")   # an exercise's data
    assert typed_run_numbers("It gets 168 of the 240 clips right (**07a.1**).")                     # only a question opens so


def test_the_readme_results_are_generated():
    "The README's results section is what tools/readme_results.py writes from the committed results: no typed run number there either."
    import runpy
    tool = runpy.run_path(str(NBS.parent/'tools'/'readme_results.py'))
    text = (NBS.parent/'README.md').read_text()
    assert tool['updated'](text) == text, "README.md's results section is stale: run `python tools/readme_results.py` (or `make chapters`)"
    assert tool['updated'](text.replace('| Mel2DCNN |', '| Mel2DCNN (typed) |', 1)) != text.replace('| Mel2DCNN |', '| Mel2DCNN (typed) |', 1)
