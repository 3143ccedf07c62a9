"""Comments that need no reply: thanks only, emoji only, obvious spam. Pure.

The schema's ``no_reply:`` section holds the rules. A comment they match gets the
Status "Not required" *when it is added* (a seed, like Pending: a Status people
change afterwards is theirs), and its Sync notes say why, so that the rows left
red are the ones that need work. The rules err on the side of a reply: a comment
is "thanks only" when every word of it is a thanks or a polite word ("Thanks,
but the water is still not here" is not), "emoji only" when it has no word, no
number and no question mark, and spam when it has a link *and* a spam word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sheets_sync.errors import ConfigError
from sheets_sync.roster import tokenize
from sheets_sync.schema import Schema
from sheets_sync.yamlfile import load_yaml

KEYS = ("status", "thanks_words", "polite_words", "emoji_only", "spam")
SPAM_KEYS = ("words", "with_link", "safe_links")
# A link as spam carries it: a scheme, www., or a short-link / web domain.
_LINK = re.compile(r"https?://|\bwww\.|\b[\w-]+\.(?:com|in|net|org|info|xyz|top|io|me|ly|site|online|"
                   r"click|link|live|shop|biz)(?:/|\b)", re.IGNORECASE)


@dataclass(frozen=True)
class NoReplyRules:
    status: str = ""  # "" means no rules: nothing is seeded
    thanks_words: frozenset[str] = frozenset()
    polite_words: frozenset[str] = frozenset()
    emoji_only: bool = False
    spam_words: tuple[tuple[str, ...], ...] = ()  # each a word or a phrase, as tokens
    spam_needs_link: bool = True
    # Links that are not spam's: the corporation's own site, the government's (a
    # complaint about a tax refund may link the portal).
    safe_links: tuple[str, ...] = ()

    def reason(self, text: str) -> str:
        """Why ``text`` needs no reply ("thanks only", "emoji only", "spam: …"), or ""."""
        if not self.status or not text.strip():
            return ""  # an empty comment may be a photo of the garbage: it waits for a person
        tokens = tokenize(text)
        spam = self._spam_word(tokens)
        if spam and (not self.spam_needs_link or self._has_link(text)):
            return f"looks like spam ({spam!r}" + (" and a link)" if self.spam_needs_link else ")")
        if tokens and any(t in self.thanks_words for t in tokens) \
                and all(t in self.thanks_words or t in self.polite_words for t in tokens):
            return "thanks only"
        if self.emoji_only and not tokens and "?" not in text and "？" not in text \
                and any(unicodedata.category(ch) == "So" for ch in text):
            return "emoji only"
        return ""

    def _has_link(self, text: str) -> bool:
        for domain in self.safe_links:
            text = re.sub(r"\S*" + re.escape(domain) + r"\S*", " ", text, flags=re.IGNORECASE)
        return _LINK.search(text) is not None

    def _spam_word(self, tokens: list[str]) -> str:
        joined = f" {' '.join(tokens)} "
        for phrase in self.spam_words:
            if phrase[0] in tokens if len(phrase) == 1 else f" {' '.join(phrase)} " in joined:
                return " ".join(phrase)
        return ""


def no_reply_rules(schema: Schema) -> NoReplyRules:
    """The rules of the schema's ``no_reply:`` section (none when it is absent), checked:
    every problem at once, each with its line."""
    raw = schema.extra.get("no_reply")
    if raw is None:
        return NoReplyRules()
    problems: list[str] = []
    loc = _located(schema)

    def problem(keys: tuple, text: str) -> None:
        where = loc.where("no_reply", *keys) if loc is not None else f"{schema.path}: no_reply"
        problems.append(f"{where}: {text}")

    if not isinstance(raw, dict):
        raise ConfigError(f"{loc.where('no_reply') if loc else schema.path}: no_reply must be a mapping "
                          "(status, thanks_words, polite_words, emoji_only, spam)")
    rules = _parse(raw, schema, problem)
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{schema.path}: {len(problems)} problems in no_reply: " + "; ".join(problems))
    return rules


def _parse(raw: dict, schema: Schema, problem) -> NoReplyRules:
    for k in raw:
        if k not in KEYS:
            problem((k,), f"unknown setting {k!r} under no_reply; known: {', '.join(KEYS)}")
    status = schema.status(str(raw.get("status", "Not required")))
    if status is None or status.open:
        problem(("status",), f"status {raw.get('status', 'Not required')!r} must be one of the schema's "
                "statuses with open: false")
    emoji_only = raw.get("emoji_only", False)
    if not isinstance(emoji_only, bool):
        problem(("emoji_only",), "emoji_only must be true or false")
    spam = raw.get("spam") or {}
    if not isinstance(spam, dict):
        problem(("spam",), "spam needs words (a list) and with_link (true or false)")
        spam = {}
    for k in spam:
        if k not in SPAM_KEYS:
            problem(("spam", k), f"unknown setting {k!r} under spam; known: {', '.join(SPAM_KEYS)}")
    with_link = spam.get("with_link", True)
    if not isinstance(with_link, bool):
        problem(("spam", "with_link"), "with_link must be true or false")
    return NoReplyRules(
        status=status.name if status else "",
        thanks_words=frozenset(w for words in _words(raw, ("thanks_words",), problem) for w in words),
        polite_words=frozenset(w for words in _words(raw, ("polite_words",), problem) for w in words),
        emoji_only=emoji_only is True,
        spam_words=tuple(words for words in _words(spam, ("spam", "words"), problem, key="words") if words),
        spam_needs_link=with_link is not False,
        safe_links=tuple(str(d).strip() for d in _list(spam, "safe_links", problem) if str(d).strip()))


def _words(raw: dict, keys: tuple, problem, key: str | None = None) -> list[tuple[str, ...]]:
    value = raw.get(key or keys[-1]) or []
    if not isinstance(value, list) or not all(isinstance(w, str | int) for w in value):
        problem(keys, f"{keys[-1]} must be a list of words")
        return []
    return [tuple(tokenize(str(w))) for w in value]


def _list(raw: dict, key: str, problem) -> list:
    value = raw.get(key) or []
    if not isinstance(value, list):
        problem(("spam", key), f"{key} must be a list of web addresses, e.g. [mahapalika.example, gov.in]")
        return []
    return value


def _located(schema: Schema):
    try:
        return load_yaml(schema.path, "schema")[1]
    except ConfigError:
        return None


__all__ = ["NoReplyRules", "no_reply_rules"]
