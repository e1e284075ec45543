"""Language codes used by the Debian packages' per-language folders -> English names."""

LANGUAGE_NAMES = {
    "ar": "Arabic", "be": "Belarusian", "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "en_GB": "English", "es": "Spanish", "fi": "Finnish",
    "fr": "French", "ga": "Irish", "gl": "Galician", "he": "Hebrew", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "lt": "Lithuanian", "ml": "Malayalam", "nb": "Norwegian", "nds": "Low German",
    "nl": "Dutch", "nn": "Norwegian", "pl": "Polish", "pt": "Portuguese", "pt_BR": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish",
    "tn": "Tswana", "uk": "Ukrainian", "wa": "Walloon",
}


def language_name(code: str) -> str:
    """'pt_BR' -> 'Portuguese', 'sr@latin' -> 'Serbian'; '' when unknown."""
    code = code.split("@")[0]
    return LANGUAGE_NAMES.get(code) or LANGUAGE_NAMES.get(code.split("_")[0], "")
