"""Identifiers that look like personal data: order and PO numbers, ISBNs, product codes, versions.

Used by the calibration step of :mod:`guardfn.pii.recognizers` to drop:

* phone numbers right after an ID label ("PO 4500-123-4567", "Order #: 212-555-0199"),
  whatever words come before the label ("Mobile: ... order #451-7816909" is an order number);
* IP addresses that are version numbers ("version 10.0.1.5", "v1.2.3.4") or part of a longer
  dotted run (``1.2.3.4.5``);
* card numbers that pass an EAN/ISBN checksum or follow an ID label, unless a card word is
  near or a card network's prefix and length fit.
"""

from __future__ import annotations

import re

_ID_LABEL = re.compile(
    r"""(?ix)\b(?:p\.?o|purchase\s+order|order|invoice|inv|ticket|case|ref|reference|isbn(?:-?1[03])?|
        issn|sku|upc|ean|gtin|asin|mpn|version|ver|v|build|release|rev|revision|tracking|shipment|
        awb|waybill|serial|s/n|sn|part|model|item|product|catalog|catalogue|confirmation|conf|booking|
        reservation|transaction|txn|batch|lot|job|task|issue|bug|incident|request|req|claim|policy|
        invoice\s+id|order\s+id|customer\s+id|document|contract|receipt|shipping|parcel|
        package|container|vin|firmware|patch|kb|article|app)
        \s*(?:number|no\.?|num|\#|id|code)?\s*[:\#=.]?\s*\#?\s*$"""
)
_VERSION_BEFORE = re.compile(r"(?i)(?:\b(?:version|ver|release|build|firmware|kernel|rev)\s*[:#=]?\s*|\bv\.?\s?)$")
_CARD_WORD = re.compile(
    r"(?i)\b(?:card|credit|debit|visa|master\s?card|amex|american\s+express|discover|jcb|diners|maestro|cc|cvv|expir\w*|payment)\b"
)


def after_id_label(text: str, start: int) -> bool:
    """True when an ID label (order, PO, invoice, ticket, ISBN, SKU, version, tracking ...) ends just before ``start``."""
    while start > 0 and (text[start - 1].isdigit() or text[start - 1] in " -./"):
        start -= 1  # the earlier groups of the same identifier ("tracking number 3468 5853 1643")
    return _ID_LABEL.search(text, max(0, start - 32), start) is not None


def is_version(text: str, start: int, end: int) -> bool:
    """True when the dotted number at ``text[start:end]`` is a version, not an IP address."""
    if _VERSION_BEFORE.search(text, max(0, start - 12), start):
        return True
    if end < len(text) - 1 and text[end] == "." and text[end + 1].isdigit():
        return True
    return start > 1 and text[start - 1] == "." and text[start - 2].isdigit()


def card_word_near(text: str, start: int) -> bool:
    """True when a payment-card word is in the 48 characters before ``start``."""
    return _CARD_WORD.search(text, max(0, start - 48), start) is not None


def network_fits(digits: str) -> bool:
    """True when a card network's prefix and length fit ``digits``."""
    n = len(digits)
    two, four, six = int(digits[:2] or 0), int(digits[:4] or 0), int(digits[:6] or 0)
    if digits.startswith("4"):
        return n in (16, 19)  # Visa (13-digit Visa numbers are no longer issued; EAN-13s starting 40-44 are common)
    if 51 <= two <= 55 or 222100 <= six <= 272099:
        return n == 16  # Mastercard
    if two in (34, 37):
        return n == 15  # American Express
    if four == 6011 or two == 65 or 644 <= int(digits[:3] or 0) <= 649 or 622126 <= six <= 622925:
        return 16 <= n <= 19  # Discover
    if 3528 <= four <= 3589:
        return 16 <= n <= 19  # JCB
    if two in (36, 38, 39) or 300 <= int(digits[:3] or 0) <= 305:
        return 14 <= n <= 19  # Diners Club
    if two == 62:
        return 16 <= n <= 19  # UnionPay
    if digits[:4] in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"):
        return 12 <= n <= 19  # Maestro
    return False


def gtin_valid(digits: str) -> bool:
    """True when ``digits`` (8, 12, 13 or 14 of them) pass the EAN/UPC/GTIN check digit (ISBN-13 included)."""
    if len(digits) not in (8, 12, 13, 14):
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def not_a_card(text: str, start: int, end: int) -> bool:
    """True when the Luhn-valid number at ``text[start:end]`` is an identifier, not a card (module docstring)."""
    if card_word_near(text, start):
        return False
    digits = "".join(c for c in text[start:end] if c.isdigit())
    if network_fits(digits):
        return False
    return gtin_valid(digits) or after_id_label(text, start)
