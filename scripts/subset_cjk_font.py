"""Cut the Chinese font the course ships (gpt_course/fonts/) out of Noto Sans CJK SC.

The full font is 16 MB (its PyPI package, mplfonts, 85 MB); the course draws a
few thousand characters, so it ships only those: every character of the
Chinese edition (translations/zh, gpt_course/locale/zh), of the text notebook
11 trains on, of every GPT-2 token, and the ranges a readout may use (Latin,
Greek, punctuation, arrows, maths, box drawing, full-width forms). The subset
is renamed ("GPT Course CJK SC"), so matplotlib never mistakes it for a full
Noto font a learner's system may have; it stays under the SIL Open Font License.

Run it again when a translation brings a new character (tests/test_zh_edition.py
says which): it needs the full fonts once, from the mplfonts package or a path:
    .venv/bin/pip install mplfonts==0.0.11
    .venv/bin/python scripts/subset_cjk_font.py [SANS.otf MONO.otf]
"""

import importlib.util
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FONTS = ROOT / "gpt_course" / "fonts"
# (full Noto font, the subset's file, its family name)
OUTPUTS = [
    ("NotoSansCJKsc-Regular.otf", "GPTCourseCJKsc-Regular.otf", "GPT Course CJK SC"),
    ("NotoSansMonoCJKsc-Regular.otf", "GPTCourseMonoCJKsc-Regular.otf", "GPT Course Mono CJK SC"),
]
RANGES = [
    (0x20, 0x7E),      # ASCII
    (0xA0, 0x17F),     # Latin-1, Latin Extended-A
    (0x370, 0x3FF),    # Greek (β, γ, σ, μ ...)
    (0x2000, 0x206F),  # general punctuation (— … ‖)
    (0x2070, 0x209F),  # super- and subscripts
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0x2500, 0x259F),  # box drawing, blocks
    (0x25A0, 0x25FF),  # geometric shapes
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF00, 0xFFEF),  # full-width forms (，：（）)
    (0xFFFD, 0xFFFD),  # the replacement character a partial token decodes to
]


def course_characters():
    """Every character the Chinese edition may draw in a figure or a picture
    (the subset also keeps RANGES)."""
    from gpt_course.tokenizer import get_tokenizer

    texts = [path.read_text(encoding="utf-8") for path in sorted(
        [*(ROOT / "translations" / "zh").glob("*.md"), *(ROOT / "gpt_course" / "locale" / "zh").glob("*.json"),
         ROOT / "gpt_course" / "data" / "course_prose.txt"])]
    tokenizer = get_tokenizer()
    texts += [tokenizer.decode_single_token_bytes(i).decode("utf-8", errors="ignore")
              for i in range(tokenizer.n_vocab)]
    return {ord(c) for text in texts for c in text if c.isprintable()}


def full_fonts(argv):
    if len(argv) == 2:
        return [Path(p) for p in argv]
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.origin:
        sys.exit("The full fonts come from mplfonts: .venv/bin/pip install mplfonts==0.0.11, "
                 "or give the two paths (Noto Sans CJK SC and Noto Sans Mono CJK SC).")
    return [Path(spec.origin).parent / "fonts" / full for full, _, _ in OUTPUTS]


def rename(font, family):
    """A new family name everywhere the name table says Noto (OFL: a modified
    font; and "Noto" is Google's trademark)."""
    postscript = family.replace(" ", "") + "-Regular"
    names = {1: family, 3: f"{postscript};subset for gpt-course", 4: f"{family} Regular",
             6: postscript, 16: family, 17: "Regular"}
    name_table = font["name"]
    for record in list(name_table.names):
        if record.nameID in names or record.nameID in (7, 18):  # 7: the Noto trademark
            name_table.removeNames(nameID=record.nameID)
    for name_id, text in names.items():
        name_table.setName(text, name_id, 3, 1, 0x409)
        name_table.setName(text, name_id, 1, 0, 0)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        for key in ("FullName", "FamilyName"):
            setattr(top, key, family if key == "FamilyName" else f"{family} Regular")


def main(argv):
    chars = course_characters().union(*(range(first, last + 1) for first, last in RANGES))
    FONTS.mkdir(exist_ok=True)
    for source, (_, target, family) in zip(full_fonts(argv), OUTPUTS):
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(source), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=chars)
        subsetter.subset(font)
        rename(font, family)
        subset.save_font(font, str(FONTS / target), options)
        kept = len(TTFont(str(FONTS / target)).getBestCmap())
        print(f"{target}: {kept} characters, {(FONTS / target).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(sys.argv[1:])
