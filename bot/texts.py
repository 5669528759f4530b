"""What the bot says, in Spanish and English, and how it picks the language of a reply."""

from __future__ import annotations

import re

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"  # the collections are mostly Spanish news
# Languages whose speakers are better served by the Spanish texts than by the English ones.
_SPANISH_FALLBACK = {"es", "ca", "gl", "pt", "eu"}

TEXTS: dict[str, dict[str, str]] = {
    "busy": {
        "es": "Ahora mismo estoy respondiendo otras preguntas. Vuelve a intentarlo en unos segundos, por favor.",
        "en": "I'm answering other questions right now. Please try again in a few seconds.",
    },
    "cooldown": {
        "es": "Espera {seconds} s antes de hacer otra pregunta, por favor.",
        "en": "Please wait {seconds} s before asking another question.",
    },
    "apology": {
        "es": (
            "Lo siento, algo falló al responder. Si vuelve a pasar, comparte este código con quien administra el "
            "bot: `{error_id}`."
        ),
        "en": (
            "Sorry, something went wrong while answering. If it happens again, share this code with the bot's "
            "admins: `{error_id}`."
        ),
    },
    "timeout": {
        "es": (
            "Lo siento, la respuesta tardó demasiado y la cancelé. Prueba con una pregunta más concreta (código "
            "`{error_id}`)."
        ),
        "en": "Sorry, the answer took too long and I gave up. Try a more specific question (code `{error_id}`).",
    },
    "bad_question": {
        "es": "No puedo buscar eso: escribe una pregunta con palabras (y de menos de 2000 caracteres).",
        "en": "I can't search for that: write a question with words in it (under 2000 characters).",
    },
    "empty_mention": {
        "es": (
            "¿Qué quieres saber? Escribe la pregunta junto a la mención, por ejemplo: {mention} ¿cómo están las presas?"
        ),
        "en": (
            "What would you like to know? Write the question next to the mention, e.g. {mention} how are the "
            "reservoirs?"
        ),
    },
    "question_header": {"es": "**Pregunta de {user}:** {question}", "en": "**Question from {user}:** {question}"},
    "sources_title": {"es": "Fuentes", "en": "Sources"},
    "see_also_title": {"es": "Artículos más cercanos", "en": "Closest articles"},
    "open_link": {"es": "Abrir", "en": "Open"},
    "more_sources": {"es": "y {count} fuentes más", "en": "and {count} more sources"},
    "answerer_extractive": {"es": "Respuesta extractiva", "en": "Extractive answer"},
    "answerer_llm": {"es": "Respuesta redactada por {model}", "en": "Answer written by {model}"},
    "answer_id": {"es": "id {answer_id}", "en": "id {answer_id}"},
    "button_sources": {"es": "Fuentes", "en": "Sources"},
    "vote_saved": {"es": "¡Gracias! Guardé tu {emoji}.", "en": "Thanks! I saved your {emoji}."},
    "vote_changed": {"es": "Cambié tu voto a {emoji}.", "en": "I changed your vote to {emoji}."},
    "vote_same": {"es": "Ya tenía tu {emoji}.", "en": "I already had your {emoji}."},
    "answer_gone": {
        "es": "Ya no tengo guardada esa respuesta; vuelve a preguntar, por favor.",
        "en": "I no longer have that answer; please ask again.",
    },
    "no_passages": {"es": "Esta respuesta no cita fuentes.", "en": "This answer cites no sources."},
    "not_admin": {
        "es": "Solo quien tiene el permiso «Gestionar servidor» puede usar este comando.",
        "en": "Only members with the Manage Server permission can use this command.",
    },
    "guild_only": {"es": "Este comando solo funciona en un servidor.", "en": "This command only works in a server."},
    "no_articles": {"es": "No hay artículos indexados que coincidan.", "en": "No indexed articles match."},
    "articles_title": {"es": "Artículos indexados", "en": "Indexed articles"},
    "articles_query_title": {"es": "Artículos sobre «{query}»", "en": "Articles about “{query}”"},
    "previous": {"es": "Anterior", "en": "Previous"},
    "next": {"es": "Siguiente", "en": "Next"},
    "stats_title": {"es": "Estadísticas", "en": "Statistics"},
    "stats_articles": {"es": "Artículos", "en": "Articles"},
    "stats_chunks": {"es": "Fragmentos", "en": "Chunks"},
    "stats_last_ingest": {"es": "Última ingesta", "en": "Last ingest"},
    "stats_never": {"es": "nunca", "en": "never"},
    "stats_model": {"es": "Modelo de embeddings", "en": "Embedding model"},
    "stats_answers": {"es": "Respuestas dadas", "en": "Answers given"},
    "stats_votes": {"es": "Valoraciones", "en": "Ratings"},
    "ingest_none": {
        "es": "Adjunta al menos un archivo ({suffixes}) o indica una URL.",
        "en": "Attach at least one file ({suffixes}) or give a URL.",
    },
    "ingest_bad_url": {
        "es": "no es una URL http(s)",
        "en": "not an http(s) URL",
    },
    "ingest_summary": {
        "es": (
            "Ingesta terminada: {added} nuevos, {updated} actualizados, {unchanged} sin cambios, {skipped} "
            "omitidos; {chunks} fragmentos escritos."
        ),
        "en": (
            "Ingest done: {added} added, {updated} updated, {unchanged} unchanged, {skipped} skipped; {chunks} "
            "chunks written."
        ),
    },
    "ingest_added": {"es": "Nuevos", "en": "Added"},
    "ingest_updated": {"es": "Actualizados", "en": "Updated"},
    "ingest_unchanged": {"es": "Sin cambios", "en": "Unchanged"},
    "ingest_skipped": {"es": "Omitidos", "en": "Skipped"},
    "ingest_too_large": {
        "es": "demasiado grande ({size} MB; máximo {limit} MB)",
        "en": "too large ({size} MB; limit {limit} MB)",
    },
    "ingest_bad_type": {
        "es": "tipo no admitido (solo {suffixes})",
        "en": "unsupported type (only {suffixes})",
    },
    "ingest_download_failed": {"es": "no se pudo descargar", "en": "could not be downloaded"},
    "and_more": {"es": "… y {count} más", "en": "… and {count} more"},
    "channel_enabled": {
        "es": "Listo: respondo a las menciones en {channel}.",
        "en": "Done: I answer mentions in {channel}.",
    },
    "channel_disabled": {
        "es": "Listo: ya no respondo a las menciones en {channel} (los comandos / siguen funcionando).",
        "en": "Done: I no longer answer mentions in {channel} (slash commands still work).",
    },
    "channels_list": {
        "es": "Respondo a las menciones en: {channels}. Los comandos / funcionan en todos los canales.",
        "en": "I answer mentions in: {channels}. Slash commands work in every channel.",
    },
    "channels_none": {
        "es": (
            "No respondo a menciones en ningún canal todavía; actívalo con /channels activar:True. Los comandos /"
            " funcionan en todos."
        ),
        "en": (
            "I don't answer mentions in any channel yet; enable one with /channels activar:True. Slash commands "
            "work everywhere."
        ),
    },
    "channel_not_text": {"es": "Elige un canal de texto.", "en": "Pick a text channel."},
    "empty_answer": {"es": "(sin texto)", "en": "(no text)"},
}


def ui_language(code: str | None) -> str:
    """The language of the bot's own texts for an answer or question in language `code`."""
    if not code:
        return DEFAULT_LANGUAGE
    code = code.lower().split("-")[0]
    if code in LANGUAGES:
        return code
    return "es" if code in _SPANISH_FALLBACK else "en"


def t(key: str, language: str, **params: object) -> str:
    """The text `key` in `language` (Spanish when that language has no text), filled in."""
    texts = TEXTS[key]
    return texts.get(language, texts[DEFAULT_LANGUAGE]).format(**params)


# Small, unambiguous word lists: enough to tell a Spanish question from an English one
# before the index has detected the language (busy and cooldown replies are sent first).
_SPANISH_WORDS = frozenset(
    (
        "el",
        "la",
        "los",
        "las",
        "del",
        "que",
        "qué",
        "cuál",
        "cuáles",
        "cuándo",
        "cuánto",
        "cuánta",
        "cómo",
        "dónde",
        "quién",
        "por",
        "para",
        "una",
        "unos",
        "es",
        "son",
        "está",
        "están",
        "hay",
        "fue",
        "y",
        "se",
        "al",
        "con",
        "sobre",
        "según",
        "pero",
        "más",
        "también",
    )
)
_ENGLISH_WORDS = frozenset(
    (
        "the",
        "what",
        "which",
        "when",
        "how",
        "where",
        "who",
        "why",
        "is",
        "are",
        "was",
        "were",
        "did",
        "does",
        "do",
        "of",
        "on",
        "and",
        "to",
        "with",
        "about",
        "from",
        "will",
        "has",
        "have",
        "it",
        "this",
        "that",
        "there",
    )
)
_WORD = re.compile(r"[^\W\d_]+")


def guess_language(text: str, locale: str | None = None) -> str:
    """es or en: the question's own words first, then the user's Discord locale, then Spanish."""
    if any(mark in text for mark in "¿¡ñÑ"):
        return "es"
    words = [w.lower() for w in _WORD.findall(text)]
    spanish = sum(w in _SPANISH_WORDS for w in words)
    english = sum(w in _ENGLISH_WORDS for w in words)
    if spanish != english:
        return "es" if spanish > english else "en"
    return ui_language(locale)
