"""The password rule (CONTRACT section 1), checked wherever a password is set.

12 to 128 characters, not the username or the email, and not a common password. The
common passwords are zxcvbn's list (30,000 passwords seen most often in breaches), a
list a maintained package ships rather than one typed by hand here; it is compared
case-insensitively, so `Password123456` counts as the listed `password123456`.
"""
from __future__ import annotations

import functools

MIN_LENGTH = 12
MAX_LENGTH = 128


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, username: str | None = None,
                     email: str | None = None) -> str | None:
    """The first rule `password` breaks, in words for the person choosing it, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters."
    folded = password.casefold()
    if username and folded == username.strip().casefold():
        return "The password may not be the username."
    if email and folded == email.strip().casefold():
        return "The password may not be the email address."
    if folded in _common_passwords():
        return "The password is too common: it is on a list of passwords attackers try first."
    return None
