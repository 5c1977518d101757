"""PDF 版（tools/make_pdf.py）用的中文字体：Debian ``fonts-noto-cjk`` 的 Noto CJK SC，换成 Chromium 能嵌入的形式。

Noto CJK 是 CFF（三次曲线）轮廓的 OpenType 字体。Chromium 的 PDF 后端（Skia）不嵌入 CFF 字体，而是把每个字
画成 Type 3 字形：``pdffonts`` 里是几百个没有名字的 Type 3 字体，文件大，阅读器里字发虚。所以打印前先用
HarfBuzz 从字体里取出书中用到的字（子集），再用 fontTools 把轮廓换成 TrueType 的二次曲线（cu2qu，误差 1/1000 em），
以 ``@font-face`` 交给浏览器：PDF 里嵌入的是带名字的 TrueType 子集字体。结果按（字体文件, 字集）缓存。
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

#: 打印用的字体名 -> (fontconfig 的查询, CSS font-weight)。正文用宋体（Serif）常规，标题用黑体（Sans）粗体；
#: 正文里的粗体由浏览器从常规字形加粗
FACES = {
    "optimlab CJK Serif": ("Noto Serif CJK SC:style=Regular", 400),
    "optimlab CJK Sans": ("Noto Sans CJK SC:style=Bold", 700),
}


def _locate(query: str) -> tuple[Path, int]:
    """fontconfig 找到的字体文件与它在字体集（.ttc）里的序号。"""
    out = subprocess.run(["fc-match", "-f", "%{file}|%{index}|%{family}", query], capture_output=True, text=True, check=True)
    file, index, family = out.stdout.split("|", 2)
    if query.split(":")[0] not in family:
        raise SystemExit(f"没有找到字体 {query}（fc-match 给出 {family}）：请安装 fonts-noto-cjk")
    return Path(file), int(index)


def _to_truetype(font) -> None:
    """把 CFF 轮廓换成 TrueType（glyf）轮廓（fontTools 的 otf2ttf 做法）。"""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    for field in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, field, 0)
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"


def truetype_subsets(text: str, cache: Path) -> dict[str, Path]:
    """每个打印字体（FACES）对 ``text`` 中各字的 TrueType 子集；返回 字体名 -> .ttf 文件。

    取子集用 HarfBuzz（uharfbuzz 的 ``hb.subset``，对这 6 万多字形的 CFF 字体只要几十毫秒；fontTools 的
    subset 要好几秒），换轮廓用 fontTools。
    """
    import io

    import uharfbuzz as hb
    from fontTools.ttLib import TTFont

    codepoints = sorted({ord(c) for c in text if ord(c) >= 0x20})
    cache.mkdir(parents=True, exist_ok=True)
    fonts = {}
    for name, (query, _) in FACES.items():
        file, index = _locate(query)
        stat = file.stat()
        key = hashlib.sha256(f"{file}|{index}|{stat.st_size}|{stat.st_mtime_ns}|{codepoints}".encode()).hexdigest()[:16]
        stem = name.replace(" ", "-")
        out = cache / f"{stem}-{key}.ttf"
        if not out.is_file():
            for old in cache.glob(f"{stem}-*.ttf"):
                old.unlink()
            wanted = hb.SubsetInput()
            for codepoint in codepoints:
                wanted.unicode_set.add(codepoint)
            wanted.flags |= hb.SubsetFlags.DESUBROUTINIZE | hb.SubsetFlags.NO_HINTING
            subset = hb.subset(hb.Face(hb.Blob.from_file_path(str(file)), index), wanted)
            if subset is None:
                raise SystemExit(f"HarfBuzz 没能从 {file} 取出子集")
            font = TTFont(io.BytesIO(subset.blob.data))
            _to_truetype(font)
            font.save(out)
        fonts[name] = out
    return fonts


def font_face_css(urls: dict[str, str]) -> str:
    """``@font-face`` 规则：字体名 -> 浏览器取字体文件的地址。"""
    return "\n".join(
        f'@font-face {{ font-family: "{name}"; src: url("{urls[name]}") format("truetype"); '
        f"font-weight: {FACES[name][1]}; font-style: normal; }}"
        for name in FACES
    )
