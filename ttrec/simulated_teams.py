"""Invented teams for simulated matches: ids and names in the provider's shape.

The provider's own simulated fixtures are named like
"SIM_V2 - MUKHERJEE Ayhika/MUKHERJEE Sutirtha" (doubles) — a prefix, then each player as
"SURNAME Given", partners joined by "/". Ours use a different prefix so a simulated
capture is never mistaken for the provider's data. The names are combinations drawn from
the lists below, not real pairings.
"""

from __future__ import annotations

import random
import uuid
from typing import Final

from ttrec.match import Team

NAME_PREFIX: Final = "TTREC_SIM - "

SURNAMES: Final = (
    "ANDERSEN", "BAUER", "CASTILLO", "DUBOIS", "EKSTROM", "FERREIRA", "GARCIA", "HOFFMANN",
    "IVANOVA", "JANSEN", "KOVACS", "LAMBERT", "MORENO", "NAKAMURA", "OKAFOR", "PETROVIC",
    "QUINTERO", "ROSSI", "SANTOS", "TANAKA", "URBAN", "VARGA", "WAGNER", "XAVIER",
    "YILDIZ", "ZIELINSKI", "HASSAN", "MENDES", "NOVAK", "SILVA", "KIM", "PARK",
    "LIN", "CHEN", "SHARMA", "GUPTA", "MOREAU", "LINDQVIST", "OLSEN", "POPESCU",
)  # fmt: skip
GIVEN_WOMEN: Final = (
    "Anna", "Beatriz", "Chiara", "Daria", "Elif", "Freya", "Greta", "Hana", "Ines", "Jana",
    "Keiko", "Lea", "Mina", "Nadia", "Olga", "Priya", "Rosa", "Sofia", "Tereza", "Yuna",
)  # fmt: skip
GIVEN_MEN: Final = (
    "Adrian", "Bruno", "Carlos", "Dmitri", "Emre", "Felix", "Goran", "Hiro", "Ivan", "Jonas",
    "Kenji", "Lucas", "Marek", "Nikhil", "Omar", "Pavel", "Rafael", "Stefan", "Tomas", "Yusuf",
)  # fmt: skip


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng` (uuid.uuid4 would read the OS's entropy)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def draw_teams(rng: random.Random, *, doubles: bool) -> tuple[Team, Team]:
    """Home and away teams of one event: women's, men's or (doubles only) mixed."""
    events = ("women", "men", "mixed") if doubles else ("women", "men")
    event = rng.choice(events)
    count = 4 if doubles else 2
    surnames = rng.sample(SURNAMES, count)
    women, men = rng.sample(GIVEN_WOMEN, count), rng.sample(GIVEN_MEN, count)
    players: list[str] = []
    for index, surname in enumerate(surnames):
        woman = event == "women" or (event == "mixed" and index % 2 == 0)
        players.append(f"{surname} {(women if woman else men)[index]}")
    per_team = 2 if doubles else 1
    home = Team(random_uuid(rng), NAME_PREFIX + "/".join(players[:per_team]), home=True)
    away = Team(random_uuid(rng), NAME_PREFIX + "/".join(players[per_team:]), home=False)
    return home, away
