"""A synthetic, deterministic Spanish news corpus and questions for `newsbot bench`.

Sentences of the bundled sample articles (or a built-in list when they are absent), recombined
with varied cities, people, numbers and dates spread over 2015-2026, so BM25 and the dense index
see a realistic spread of words and dates.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

SAMPLE_ARTICLES = Path(__file__).resolve().parents[2] / "examples" / "articles"
CITIES = (
    "Valle Alto", "San Rafael", "Puerto Claro", "Villa Serena", "Río Verde", "Santa Elena", "Cerro Azul",
    "Las Palmas", "Monteverde", "Altamira", "Nueva Esperanza", "El Encino", "Bahía Honda", "Loma Bonita",
    "San Isidro", "Piedras Negras del Sur", "Tres Ríos", "La Cañada", "Ciudad Jardín", "Sierra Blanca",
)  # fmt: skip
PEOPLE = (
    "Laura Méndez", "Ernesto Salas", "María Fernanda Ruiz", "Jorge Castañeda", "Ana Lucía Torres", "Pedro Ibarra",
    "Sofía Navarro", "Ricardo Fuentes", "Gabriela Ortiz", "Luis Alberto Rojas", "Carmen Villalobos", "Andrés Peña",
)  # fmt: skip
OUTLETS = ("Diario del Valle", "Noticias Metropolitanas", "El Observador", "La Voz del Sur", "Crónica Regional")
TOPICS = (
    "presas", "agua", "metro", "transporte", "presupuesto", "escuelas", "hospitales", "lluvias", "sequía",
    "carreteras", "seguridad", "energía", "vivienda", "empleo", "turismo", "elecciones", "salud", "cultura",
)  # fmt: skip
# Used when the sample articles are not there (an installed package without the examples folder).
FALLBACK_SENTENCES = (
    "Las presas que abastecen a la ciudad se encuentran al 41 % de su capacidad, informó la comisión del agua.",
    "La alcaldesa anunció que a partir del 10 de febrero habrá tandeos en 12 colonias del oriente.",
    "La nueva línea del metro tendrá 14 estaciones a lo largo de 22 kilómetros.",
    "La obra costó 9,800 millones de pesos, 15 % más de lo presupuestado.",
    "El gobierno federal aprobó 500 millones de pesos para obras de emergencia.",
    "Las lluvias de la última semana elevaron el nivel de las presas al 36 %.",
    "Vecinos pidieron que el calendario de cortes se publique con una semana de anticipación.",
    "El director de la comisión advirtió que los tandeos podrían extenderse a 20 colonias.",
)
QUESTION_TEMPLATES = (
    "¿A qué nivel están las presas de {city}?",
    "¿Cuándo empiezan los tandeos de agua en {city}?",
    "¿Cuántas estaciones tendrá la nueva línea del metro de {city}?",
    "¿Qué dijo {person} sobre el agua?",
    "¿Cuánto costó la obra del metro en {city}?",
    "¿Cuánto dinero federal recibió {city}?",
    "¿Cuánta lluvia cayó en {city}?",
    "¿Qué anunció {person} sobre {topic}?",
    "¿Cuántas colonias de {city} tienen cortes de agua?",
    "What did {person} say about {topic}?",
)


# -- synthetic corpus --------------------------------------------------------------------


def source_sentences() -> list[str]:
    """Body sentences of the sample articles (their headline lines skipped)."""
    sentences: list[str] = []
    for path in sorted(SAMPLE_ARTICLES.glob("*.txt")):
        body = path.read_text(encoding="utf-8").split("\n", 1)[-1]
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s.strip()) > 30]
    return sentences or list(FALLBACK_SENTENCES)


def _vary(sentence: str, rng: random.Random, city: str) -> str:
    """Another city, other people, other numbers: the same kind of news, other facts."""
    text = sentence.replace("Valle Alto", city).replace("VALLE ALTO", city.upper())
    for person in ("Laura Méndez", "Ernesto Salas"):
        text = text.replace(person, rng.choice(PEOPLE))
    return re.sub(r"\d+", lambda m: str(rng.randint(1, 10 ** len(m.group(0)) - 1)), text)


def synthetic_articles(count: int, sentences_per_article: int, seed: int = 0) -> list[dict[str, str]]:
    """`count` JSON records (title, date, outlet, url, text), the same for the same arguments."""
    rng = random.Random(seed)
    pool = source_sentences()
    records = []
    for number in range(count):
        city, topic = rng.choice(CITIES), rng.choice(TOPICS)
        day = 1 + rng.randrange(365 * 12)  # spread over 2015-2026
        date = f"{2015 + day // 366:04d}-{1 + (day % 366) // 31:02d}-{1 + day % 28:02d}"
        body = [_vary(rng.choice(pool), rng, city) for _ in range(sentences_per_article)]
        paragraphs = [" ".join(body[i : i + 3]) for i in range(0, len(body), 3)]
        records.append(
            {
                "title": f"{city}: {topic} — {_vary(rng.choice(pool), rng, city)[:90]}",
                "date": date,
                "outlet": rng.choice(OUTLETS),
                "url": f"https://bench.invalid/{seed}/{number}",
                "text": "\n\n".join(paragraphs),
            }
        )
    return records


def synthetic_questions(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(QUESTION_TEMPLATES).format(
            city=rng.choice(CITIES), person=rng.choice(PEOPLE), topic=rng.choice(TOPICS)
        )
        for _ in range(count)
    ]
