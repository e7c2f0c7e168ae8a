"""All mapped tables; import this package to register them on ``Base.metadata``."""

from app.db.models.access import ApiKeyRow, DataGeneration
from app.db.models.addresses import BanAddress, BanImport, BanStreet
from app.db.models.base import Base
from app.db.models.divisions import Commune, DivisionsImport
from app.db.models.qpv import Dataset, Qpv, QpvGrid

__all__ = [
    "ApiKeyRow",
    "BanAddress",
    "BanImport",
    "BanStreet",
    "Base",
    "Commune",
    "DataGeneration",
    "Dataset",
    "DivisionsImport",
    "Qpv",
    "QpvGrid",
]
