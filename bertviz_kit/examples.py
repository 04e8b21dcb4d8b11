"""Example texts used by the CLI demo, the notebooks and the tests.

``BANK_TEXT`` is the tutorial's sentence, with "bank" in two senses (money and
river). ``BANK_SENSES`` holds ten short sentences for each sense, for
projections and probes that ask whether a layer tells the senses apart.
"""

from __future__ import annotations

__all__ = ["BANK_TEXT", "BANK_SENSES"]

#: The tutorial's sentence: two money "bank"s and one river "bank".
BANK_TEXT = (
    "After stealing money from the bank vault, the bank robber was seen "
    "fishing on the Mississippi river bank."
)

#: Ten sentences per sense of "bank" (each has "bank" once).
BANK_SENSES: dict[str, tuple[str, ...]] = {
    "money": (
        "I deposited the cheque at the bank.", "The bank approved my loan.",
        "She works as a teller at the bank.", "The bank charges high fees.",
        "Robbers broke into the bank at night.", "He opened a savings account at the bank.",
        "The central bank raised interest rates.", "My bank sent me a new card.",
        "The bank closed early on Friday.", "They borrowed money from the bank.",
    ),
    "river": (
        "We had a picnic on the river bank.", "The boat drifted to the bank of the stream.",
        "Reeds grow along the muddy bank.", "He fished from the grassy bank.",
        "The flood washed away the bank.", "Ducks rested on the bank of the pond.",
        "She climbed up the steep bank.", "Willows lined the bank of the canal.",
        "The children sat on the sandy bank.", "Erosion wore down the bank of the river.",
    ),
}
