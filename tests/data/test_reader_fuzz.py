"""Fuzzing every annotation reader: random bytes and mutations of valid files either parse
(to the clean file's result, when the mutation keeps the meaning) or raise the reader's
AnnotationError naming the file (and a line inside it); never another exception.

Three families of input per reader:

* the clean file dressed as people save it (BOM, CRLF or CR, blank lines, no final
  newline, Latin-1 when the text is ASCII): the same result as the clean file;
* broken files (a field dropped, the id swapped with another column, a min/max pair
  swapped, a line dropped or duplicated where that is an error, truncation, UTF-16,
  Latin-1 of non-ASCII text): the same result or AnnotationError;
* random bytes, and random byte edits of the clean file: any result or AnnotationError.
"""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from camjax.data import (AnnotationError, read_ilsvrc_xml, read_loc_val_solution,
                         read_synsets, read_wsol_metadata)

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------------- clean files
# non-ASCII ids (Latin-1 re-encoding must be refused); multi-box images not last, and
# every file's last value a single character (so a truncated file never reads as valid)
WSOL_BOXES = {
    "image_ids.txt": ["001.Café/é_1.jpg", "001.Café/b.jpg", "002.Gull/c.jpg"],
    "class_labels.txt": ["001.Café/é_1.jpg,0", "001.Café/b.jpg,0", "002.Gull/c.jpg,1"],
    "image_sizes.txt": ["001.Café/é_1.jpg,500,375", "001.Café/b.jpg,100,50",
                        "002.Gull/c.jpg,64,9"],
    "localization.txt": ["001.Café/é_1.jpg,111,108,441,193", "001.Café/é_1.jpg,0,0,499,374",
                         "001.Café/b.jpg,0,0,99,49", "002.Gull/c.jpg,10,1,63,8"],
}
WSOL_MASKS = {
    "image_ids.txt": ["t/a.jpg", "t/b.jpg"],
    "class_labels.txt": ["t/a.jpg,3", "t/b.jpg,5"],
    "localization.txt": ["t/a.jpg,t/a_m0.png,t/a_ig.png", "t/a.jpg,t/a_m1.png,",
                         "t/b.jpg,t/b_m0.png,t/b_ig.png"],
}
SYNSETS = ["n01440764 tench, Tinca tinca", "n01443537 goldfish, Carassius auratus",
           "n01484850 great white shark, éé"]
SYN = {"n01440764": 0, "n01443537": 1, "n01484850": 2}
CSV = ["ImageId,PredictionString",
       "ILSVRC2012_val_00000002,n01443537 1 2 30 40 n01443537 5 6 7 8 ",
       "ILSVRC2012_val_00000001,n01440764 1 2 13 9"]
XML = """<annotation>
  <folder>val</folder>
  <filename>ILSVRC2012_val_00000001</filename>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>n01440764</name><bndbox><xmin>111</xmin><ymin>108</ymin><xmax>441</xmax>
    <ymax>193</ymax></bndbox></object>
  <object><name>n01440764</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>9</xmax>
    <ymax>9</ymax></bndbox></object>
</annotation>"""


def summary(ann):
    """Annotations as plain, comparable values."""
    return (ann.image_ids, ann.labels, ann.sizes,
            {k: np.asarray(v).tolist() for k, v in ann.boxes.items()},
            ann.mask_paths, ann.ignore_paths)


# --------------------------------------------------------------------- mutations
@st.composite
def dressed(draw, lines: list[str]) -> bytes:
    """The clean lines as people save them: the same meaning."""
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out = []
    for line in lines:
        out += [draw(st.sampled_from(["", " ", "\t", "  \t"]))
                for _ in range(draw(st.integers(0, 1)))]
        out.append(line)
    text = end.join(out) + draw(st.sampled_from(["", end, end * 3]))
    text = draw(st.sampled_from(["", "\ufeff"])) + text
    ascii_text = all(ord(c) < 128 for c in text.lstrip("\ufeff"))
    encoding = draw(st.sampled_from(["utf-8", "latin-1"])) if ascii_text else "utf-8"
    return text.encode("utf-8") if text.startswith("\ufeff") else text.encode(encoding)


@st.composite
def broken(draw, lines: list[str], pairs=(), sep=",", drop_lines=True,
           truncate=True) -> bytes:
    """A damaged copy of the lines: an error, unless the damage happens to be a no-op.
    ``pairs``: (min, max) column pairs whose swap is an error (x0/x1, y0/y1). Dropping,
    duplicating or truncating lines is left out where fewer lines are still valid."""
    lines = list(lines)
    k = draw(st.integers(0, len(lines) - 1))
    fields = lines[k].split(sep)
    ops = ["drop_field", "utf16", "latin1"] + ["swap_id"] * (len(fields) > 1)
    ops += ["swap_pair"] * bool(pairs) + ["drop_line", "duplicate_line"] * drop_lines
    ops += ["truncate"] * truncate
    op = draw(st.sampled_from(ops))
    if op == "drop_field":
        del fields[draw(st.integers(0, len(fields) - 1))]
        lines[k] = sep.join(fields)
    elif op == "swap_id":
        j = draw(st.integers(1, len(fields) - 1))
        fields[0], fields[j] = fields[j], fields[0]
        lines[k] = sep.join(fields)
    elif op == "swap_pair":
        a, b = draw(st.sampled_from(pairs))
        fields[a], fields[b] = fields[b], fields[a]
        lines[k] = sep.join(fields)
    elif op == "drop_line":
        del lines[k]
    elif op == "duplicate_line":
        lines.insert(k, lines[k])
    text = "\n".join(lines) + "\n"
    if op == "truncate":
        text = text[:draw(st.integers(1, len(text.rstrip()) - 1))]   # empty: "none" files
    if op == "utf16":
        return text.encode("utf-16")
    return text.encode("latin-1", "replace") if op == "latin1" else text.encode("utf-8")


@st.composite
def edited(draw, clean: bytes) -> bytes:
    """Random byte edits (replace, insert, delete) of the clean bytes."""
    data = bytearray(clean)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if op == "insert" or not data or i == len(data):
            data.insert(i, byte)
        elif op == "replace":
            data[i] = byte
        else:
            del data[i]
    return bytes(data)


def garbage(clean: bytes):
    return st.one_of(st.binary(max_size=300), edited(clean))


# ----------------------------------------------------------------------- checking
def outcome(read, files: dict[Path, bytes]):
    """Write ``files``, read (a comparable result), or check and return the error."""
    for path, data in files.items():
        path.write_bytes(data)
    try:
        return read()
    except AnnotationError as err:
        path = Path(err.path)
        assert path in files or path.parent in {p.parent for p in files}, err.path
        assert str(err).startswith(f"{err.path}:"), str(err)
        if err.line is not None:
            size = files.get(path, b"").count(b"\n") + files.get(path, b"").count(b"\r") + 1
            assert 1 <= err.line <= size, (err.line, size)
        return err


def check(read, files, clean_result, *, same: bool, may_fail: bool):
    got = outcome(read, files)
    if isinstance(got, AnnotationError):
        assert may_fail, f"clean-meaning file refused: {got}"
    elif same:
        assert got == clean_result


def clean_bytes(lines):
    return ("\n".join(lines) + "\n").encode()


# ----------------------------------------------------------------- wsolevaluation
@pytest.fixture(scope="module")
def wsol_dirs(tmp_path_factory):
    dirs = {}
    for name, files in (("boxes", WSOL_BOXES), ("masks", WSOL_MASKS)):
        d = tmp_path_factory.mktemp(name)
        for f, lines in files.items():
            (d / f).write_bytes(clean_bytes(lines))
        dirs[name] = (d, files, summary(read_wsol_metadata(d)))
    return dirs


WSOL_CASES = [(kind, name) for kind, files in (("boxes", WSOL_BOXES), ("masks", WSOL_MASKS))
              for name in files]
PAIRS = {"localization.txt": ((1, 3), (2, 4))}


def wsol_files(d, files, name, data):
    out = {d / f: clean_bytes(lines) for f, lines in files.items()}
    out[d / name] = data
    return out


@pytest.mark.parametrize("kind, name", WSOL_CASES)
def test_wsol_metadata_dressed_reads_the_same(wsol_dirs, kind, name):
    d, files, clean = wsol_dirs[kind]

    @SETTINGS
    @given(dressed(files[name]))
    def run(data):
        check(lambda: summary(read_wsol_metadata(d)), wsol_files(d, files, name, data), clean,
              same=True, may_fail=False)
    run()


@pytest.mark.parametrize("kind, name", WSOL_CASES)
def test_wsol_metadata_broken_is_refused(wsol_dirs, kind, name):
    d, files, clean = wsol_dirs[kind]
    pairs = PAIRS.get(name, ()) if kind == "boxes" else ()
    # a box or mask line more or less is another valid file, not a broken one; so is a
    # mask file truncated inside a path
    loc = name == "localization.txt"
    strategy = broken(files[name], pairs, drop_lines=not loc,
                      truncate=not (loc and kind == "masks"))

    @SETTINGS
    @given(strategy)
    def run(data):
        check(lambda: summary(read_wsol_metadata(d)), wsol_files(d, files, name, data), clean,
              same=True, may_fail=True)
    run()


@pytest.mark.parametrize("kind, name", WSOL_CASES)
def test_wsol_metadata_garbage_is_refused_or_read(wsol_dirs, kind, name):
    d, files, clean = wsol_dirs[kind]

    @SETTINGS
    @given(garbage(clean_bytes(files[name])))
    def run(data):
        check(lambda: summary(read_wsol_metadata(d)), wsol_files(d, files, name, data), clean,
              same=False, may_fail=True)
    run()


# ------------------------------------------------------------------------ ILSVRC
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("ilsvrc")


@pytest.mark.parametrize("family", ["dressed", "broken", "garbage"])
def test_synsets(folder, family):
    path = folder / f"LOC_synset_mapping_{family}.txt"
    path.write_bytes(clean_bytes(SYNSETS))
    clean = read_synsets(path)
    assert clean == SYN
    strategy = {"dressed": dressed(SYNSETS), "garbage": garbage(clean_bytes(SYNSETS)),
                "broken": broken(SYNSETS, sep=" ", drop_lines=False, truncate=False)}[family]

    @SETTINGS
    @given(strategy)
    def run(data):
        check(lambda: read_synsets(path), {path: data}, clean, same=family != "garbage",
              may_fail=family != "dressed")
    run()


@pytest.mark.parametrize("family", ["dressed", "broken", "garbage"])
def test_loc_val_solution(folder, family):
    path = folder / f"LOC_val_solution_{family}.csv"
    path.write_bytes(clean_bytes(CSV))
    clean = summary(read_loc_val_solution(path, SYN))
    strategy = {"dressed": dressed(CSV), "garbage": garbage(clean_bytes(CSV)),
                "broken": broken(CSV, drop_lines=False, truncate=False)}[family]

    @SETTINGS
    @given(strategy)
    def run(data):
        check(lambda: summary(read_loc_val_solution(path, SYN)), {path: data}, clean,
              same=family != "garbage", may_fail=family != "dressed")
    run()


@st.composite
def xml_variants(draw, family: str) -> bytes:
    text = XML
    if family == "dressed":
        text = text.replace("\n", draw(st.sampled_from(["\n", "\r\n"])))
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
        if encoding == "latin-1":
            text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + text
        return text.encode(encoding)
    tags = ["filename", "width", "height", "xmin", "ymin", "xmax", "ymax", "name", "size",
            "bndbox"]
    op = draw(st.sampled_from(["drop", "swap", "truncate"]))
    if op == "drop":            # an element without its content: refused (or no-op: folder)
        tag = draw(st.sampled_from(tags[1:]))
        start = text.index(f"<{tag}>")
        text = text[:start] + text[text.index(f"</{tag}>", start) + len(tag) + 3:]
    elif op == "swap":          # xmin <-> xmax, ymin <-> ymax
        a, b = draw(st.sampled_from([("xmin", "xmax"), ("ymin", "ymax")]))
        va = text.split(f"<{a}>")[1].split("<")[0]
        vb = text.split(f"<{b}>")[1].split("<")[0]
        text = text.replace(f"<{a}>{va}<", f"<{a}>@<", 1).replace(f"<{b}>{vb}<", f"<{b}>{va}<",
                                                                   1).replace("@", vb, 1)
    else:
        text = text[:draw(st.integers(0, len(text) - 2))]
    return text.encode()


@pytest.mark.parametrize("family", ["dressed", "broken", "garbage"])
def test_ilsvrc_xml(folder, family):
    d = folder / f"xml_{family}"
    d.mkdir()
    path = d / "ILSVRC2012_val_00000001.xml"
    path.write_text(XML)
    clean = summary(read_ilsvrc_xml(d, SYN))
    strategy = garbage(XML.encode()) if family == "garbage" else xml_variants(family)

    @SETTINGS
    @given(strategy)
    def run(data):
        check(lambda: summary(read_ilsvrc_xml(d, SYN)), {path: data}, clean,
              same=family != "garbage", may_fail=family != "dressed")
    run()
