"""Reading articles: every supported format, and every kind of bad input reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import ArticleError
from index.ingest.articles import parse_date, parse_html, read_file, read_sources
from index.ingest.html_extract import (
    boilerplate_block,
    published_in_own_zone,
    standfirst,
    strip_site_name,
    visible_headline,
)
from index.search.sentences import split_sentences

from .conftest import SAMPLE_ARTICLES

HTML_PAGE = """<!DOCTYPE html>
<html lang="es"><head>
<meta charset="utf-8">
<title>Valle Alto inaugura planta potabilizadora | Crónica del Norte</title>
<meta property="og:title" content="Valle Alto inaugura planta potabilizadora">
<meta property="og:site_name" content="Crónica del Norte">
<meta property="og:url" content="https://cronica.example/valle-alto-planta">
<meta property="article:published_time" content="2026-04-02T09:30:00-06:00">
</head><body>
<nav><ul><li><a href="/">Inicio</a></li><li><a href="/deportes">Deportes</a></li><li>Suscríbete ya</li></ul></nav>
<article>
<h1>Valle Alto inaugura planta potabilizadora</h1>
<p>La alcaldesa Laura Méndez inauguró este jueves una planta potabilizadora que tratará 300 litros
por segundo y dará servicio a 40,000 habitantes del oriente de la ciudad.</p>
<p>La obra costó 220 millones de pesos y fue financiada con recursos estatales, explicó el director
de la Comisión Municipal del Agua, Ernesto Salas, durante el acto de inauguración.</p>
<p>Según la comisión, la planta permitirá reducir los tandeos en cuatro colonias a partir de mayo,
aunque el nivel de las presas sigue por debajo del 40 por ciento de su capacidad total.</p>
</article>
<footer>© 2026 Crónica del Norte. Todos los derechos reservados. Aviso de privacidad.</footer>
</body></html>
"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_seed_format_headline_outlet_and_dateline_outlet() -> None:
    result = read_sources([SAMPLE_ARTICLES])
    assert not result.skipped
    by_name = {Path(a.source).name: a for a in result.articles}
    assert len(by_name) == 6
    from_headline = by_name["2026-02-03_diario-del-valle_presas.txt"]
    assert from_headline.outlet == "Diario del Valle"
    assert from_headline.title == "Las presas de Valle Alto bajan al 41 % y el municipio anuncia tandeos de agua"
    assert from_headline.date == "2026-02-03" and from_headline.date_int == 20260203
    assert from_headline.language == "es"
    assert from_headline.text.startswith("Las tres presas")
    from_dateline = by_name["2026-02-04_noticias-metropolitanas_presas.txt"]
    assert from_dateline.outlet == "Noticias Metropolitanas"
    english = by_name["2026-02-20_valley-post_federal-aid.txt"]
    assert english.language == "en" and english.outlet == "Valley Post"


def test_shared_seed_articles(shared_dir: Path) -> None:
    result = read_sources([shared_dir / "corpus" / "seeds"])
    assert not result.skipped
    outlets = sorted(a.outlet for a in result.articles)
    assert outlets == ["Secretaría de Relaciones Exteriores", "SinEmbargo"]
    assert {a.date for a in result.articles} == {"2026-01-16"}


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = write(
        tmp_path / "nota.md",
        "---\ntitle: Sube la tarifa del agua\ndate: 2026-05-04\noutlet: Diario del Valle\n"
        "url: https://diario.example/tarifa\n---\n\nLa tarifa del agua subirá 5 % en junio, anunció el cabildo.\n",
    )
    [article] = read_file(path).articles
    assert article.title == "Sube la tarifa del agua"
    assert article.date == "2026-05-04"
    assert article.outlet == "Diario del Valle"
    assert article.source == article.url == "https://diario.example/tarifa"
    assert article.origin == str(path.resolve())


def test_html_main_text_extracted_without_boilerplate(tmp_path: Path) -> None:
    [article] = read_file(write(tmp_path / "planta.html", HTML_PAGE)).articles
    assert article.title == "Valle Alto inaugura planta potabilizadora"
    assert article.outlet == "Crónica del Norte"
    assert article.date == "2026-04-02"
    assert "300 litros" in article.text and "220 millones" in article.text
    assert "Suscríbete" not in article.text and "derechos reservados" not in article.text


def test_json_list_and_json_lines(tmp_path: Path) -> None:
    records = [
        {"title": "Uno", "date": "2026-01-01", "outlet": "A", "url": "https://a.example/1", "text": "Texto uno."},
        {"title": "Dos", "date": "2026-01-02T10:00:00Z", "outlet": "B", "text": "Texto dos."},
    ]
    listed = read_file(write(tmp_path / "list.json", json.dumps(records)))
    assert [a.title for a in listed.articles] == ["Uno", "Dos"]
    assert listed.articles[0].source == "https://a.example/1"
    assert listed.articles[1].source.endswith("list.json#2")
    assert listed.articles[1].date == "2026-01-02"

    lines = "\n".join([json.dumps(records[0]), '{"title": "roto", "date": ', json.dumps(records[1])])
    result = read_file(write(tmp_path / "feed.jsonl", lines))
    assert [a.title for a in result.articles] == ["Uno", "Dos"]
    assert len(result.skipped) == 1
    source, reason = result.skipped[0]
    assert source.endswith("feed.jsonl#2") and "invalid or truncated JSON" in reason


def test_text_run_together_upstream_is_mended(tmp_path: Path) -> None:
    """Scraped text whose paragraph breaks were lost: sentences run together get their space
    back (so they split into sentences), a subheading run into the next sentence ends its line,
    and a headline run into the first sentence becomes a paragraph of its own. Decimals,
    domains, abbreviations and brand names are left alone."""
    record = {
        "title": "Brasil supera los 525 casos",
        "date": "2020-03-18",
        "text": " Brasil supera los 525 casos Brasil registró 57 casos nuevos.En San Pablo hubo cuatro muertes "
        "hasta las 23.59.Un comité de EE.UU. evaluará 3.5 millones en www.gub.uy el 1.º de abril.Lo anunció por "
        "WhatsApp.Las variantes del coronavirusHasta el jueves, la realidad actual.SARS-CoV-2 sigue. Las "
        "solicitudes son casi 65.000El estudio lo dice en Il Sole 24Ore. Libros a domicilio“Hay que leer”, "
        "dijo sobre el llamado “plan”.",
    }
    article = read_file(write(tmp_path / "glued.json", json.dumps(record))).articles[0]
    assert article.text == (
        "Brasil supera los 525 casos\n\nBrasil registró 57 casos nuevos. En San Pablo hubo cuatro muertes "
        "hasta las 23.59. Un comité de EE.UU. evaluará 3.5 millones en www.gub.uy el 1.º de abril. Lo anunció por "
        "WhatsApp. Las variantes del coronavirus\nHasta el jueves, la realidad actual. SARS-CoV-2 sigue. Las "
        "solicitudes son casi 65.000\nEl estudio lo dice en Il Sole 24Ore. Libros a domicilio\n“Hay que leer”, "
        "dijo sobre el llamado “plan”."
    )
    assert split_sentences(article.text)[:3] == [
        "Brasil supera los 525 casos",
        "Brasil registró 57 casos nuevos.",
        "En San Pablo hubo cuatro muertes hasta las 23.59.",
    ]


BAD_INPUTS = [
    ("empty.txt", b"", "empty file"),
    ("blank.txt", b"   \n\n  ", "empty file"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("latin1.txt", " date 2026-01-01 Año nuevo\n\nCelebración en la plaza.".encode("latin-1"), "not valid UTF-8"),
    ("header-only.txt", b" date 2026-01-01 Un titular sin cuerpo\n", "truncated"),
    ("dateless.txt", b"Un texto cualquiera sin fecha.\n\nOtro parrafo.", "no date"),
    ("bad-date.txt", b" date 9999-99-99 Titular\n\nCuerpo del articulo.", "invalid date"),
    ("truncated.json", b'[{"title": "x", "date": "2026-01-01", "text": "abc"', "truncated JSON"),
    ("no-date.json", b'{"title": "x", "text": "abc"}', "no date"),
    ("no-date.md", b"---\ntitle: Sin fecha\n---\nTexto.", "no date"),
    ("page.html", b"<html><body><p>hola</p></body></html>", "no"),
    ("notes.pdf", b"%PDF-1.4", "unsupported file type"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_reported_with_its_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    result = read_file(write(tmp_path / name, content))
    assert result.articles == []
    [(source, message)] = result.skipped
    assert source == str((tmp_path / name).resolve())
    assert reason in message


def test_a_bad_file_does_not_stop_the_batch(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    for name, content, _ in BAD_INPUTS:
        if name != "notes.pdf":  # folders are read for supported types only
            write(folder / name, content)
    write(folder / "good.txt", " date 2026-03-01 Buen artículo| Diario\n\nUn cuerpo perfectamente legible.")
    result = read_sources([folder, tmp_path / "missing-folder"])
    assert [a.title for a in result.articles] == ["Buen artículo"]
    reasons = dict(result.skipped)
    assert len(reasons) == len(BAD_INPUTS)  # 11 bad files + the missing folder
    assert reasons[str(tmp_path / "missing-folder")] == "no such file or folder"


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.ingest.articles as articles

    monkeypatch.setattr(articles, "MAX_FILE_BYTES", 1000)
    path = write(tmp_path / "big.txt", " date 2026-01-01 Grande\n\n" + "palabra " * 500)
    [(_, reason)] = read_file(path).skipped
    assert "too large" in reason


@pytest.mark.parametrize(
    ("raw", "iso"),
    [("2026-01-16", "2026-01-16"), ("2026-01-16T23:10:00Z", "2026-01-16"), ("16 de enero de 2026", "2026-01-16")],
)
def test_dates_are_normalised(raw: str, iso: str) -> None:
    assert parse_date(raw) == iso


@pytest.mark.parametrize("raw", ["9999-99-99", "ayer", "", "2026-02-30"])
def test_invalid_dates_raise(raw: str) -> None:
    with pytest.raises(ArticleError):
        parse_date(raw)


def test_html_title_loses_the_site_name_and_a_trailing_section() -> None:
    assert strip_site_name("La agenda de Interior - La Tercera", "La Tercera") == "La agenda de Interior"
    assert strip_site_name("Diario HOY | Darán bendición a vehículos", "Diario HOY") == "Darán bendición a vehículos"
    assert (
        strip_site_name("Mendoza tendrá tres evaluaciones | Sociedad", "Los Andes")
        == "Mendoza tendrá tres evaluaciones"
    )
    assert strip_site_name('Investigador: "El 90%" | EL DEBER', "GrupoELDEBER") == 'Investigador: "El 90%"'
    # A dash inside a headline, or a title that is only the site's name, stays.
    assert strip_site_name("Rusia - Ucrania: la guerra sigue", "Clarín") == "Rusia - Ucrania: la guerra sigue"
    assert strip_site_name("Clarín", "Clarín") == "Clarín"


def test_html_date_is_the_publication_day_in_the_outlets_zone() -> None:
    late_evening = '<meta property="article:published_time" content="2022-05-08T22:30:00-05:00"/>'
    assert published_in_own_zone(late_evening) == "2022-05-08"  # 2022-05-09 in UTC
    assert published_in_own_zone('{"datePublished": "2022-05-07T13:43:46-05:00"}') == "2022-05-07"
    # A UTC time says nothing of the outlet's day: htmldate decides.
    assert published_in_own_zone('{"datePublished": "2022-05-03T20:51:06.620Z"}') == ""
    page = HTML_PAGE.replace("2026-04-02T09:30:00-06:00", "2026-04-02T22:30:00-06:00")  # 04-03 in UTC
    assert parse_html(page, "x.html", "x.html").date == "2026-04-02"


@pytest.mark.parametrize(
    ("text", "link_share"),
    [
        ("Lea también: El puerto amplía su muelle de carga", 0.8),  # a link, not a sentence
        ("Planta potabilizadora abre en Valle Alto", 1.0),  # a related headline
        ("Te puede interesar: la alcaldesa presenta su informe", 0.0),
        ("NOTICIAS RELACIONADAS", 0.0),
        ("Síguenos en Facebook, Instagram y X para recibir las noticias del día", 0.3),
        ("La alcaldesa durante el acto de inauguración (Foto: Archivo).", 0.0),
        ("Jueves 2 abril, 2026", 0.0),
        ("02/04/2026 09:30 am", 0.0),
        ("Informar es un servicio. Hazte miembro y recibe beneficios.", 0.0),  # an appeal, anywhere
    ],
)
def test_page_furniture_blocks_are_dropped(text: str, link_share: float) -> None:
    assert boilerplate_block(text, link_share)


@pytest.mark.parametrize(
    ("text", "link_share"),
    [
        ("La obra costó 220 millones de pesos, explicó el director de la Comisión del Agua.", 0.0),
        ("El alcalde de Valle Alto anunció la obra en la Comisión Municipal del Agua.", 0.6),  # linked, a sentence
        ("Más de 300 vecinos asistieron al acto de inauguración este jueves.", 0.0),
        ("Un subtítulo del artículo", 0.0),
        ("La empresa dijo en Twitter y Facebook que seguirá operando con normalidad.", 0.0),
    ],
)
def test_article_blocks_are_kept(text: str, link_share: float) -> None:
    assert not boilerplate_block(text, link_share)


def test_html_furniture_is_filtered_from_the_text() -> None:
    furniture = (
        '<p>Lea también: <a href="/otra">El puerto amplía su muelle</a></p>'
        '<h3>Notas relacionadas</h3><p><a href="/a">Una nota sobre el agua potable en la ciudad</a></p>'
    )
    article = parse_html(HTML_PAGE.replace("</article>", furniture + "</article>"), "x.html", "x.html")
    assert "planta potabilizadora que tratará" in article.text
    assert "Lea también" not in article.text and "Notas relacionadas" not in article.text
    assert "Una nota sobre" not in article.text


def test_html_headline_is_the_h1_a_metadata_title_names() -> None:
    page = "<html><head><title>Diario X | “Agua para todos”, dice la alcaldesa</title></head><body>{}</body></html>"
    h1 = "<h1>Menú</h1><h1>“Agua para todos”, dice la alcaldesa</h1>"
    assert visible_headline(page.format(h1), "x") == ("“Agua para todos”, dice la alcaldesa", True)
    # An <h1> no metadata title names is some other heading; a title cut short is completed.
    cut = '<html><head><title>La alcaldesa dice "basta"</title><meta property="og:title" content="La alcaldesa dice">'
    assert visible_headline(cut + "</head><body><h1>Otra cosa distinta</h1></body></html>", "La alcaldesa dice") == (
        'La alcaldesa dice "basta"',
        False,
    )


def test_html_standfirst_is_put_before_the_body() -> None:
    deck = "La planta tratará 300 litros por segundo y dará agua a 40,000 habitantes del oriente."
    page = HTML_PAGE.replace(
        '<meta property="og:site_name"',
        f'<meta name="description" content="{deck[:60]}..."><meta property="og:site_name"',
    ).replace(
        "<h1>Valle Alto inaugura planta potabilizadora</h1>",
        f"<h1>Valle Alto inaugura planta potabilizadora</h1><h2>{deck}</h2>",
    )
    article = parse_html(page, "x.html", "x.html")
    assert article.text.startswith(deck + "\n")
    assert standfirst(page, article.text) == ""  # already there
    # A description that no element of the page shows is not added.
    assert standfirst(page.replace(f"<h2>{deck}</h2>", ""), "cuerpo") == ""
