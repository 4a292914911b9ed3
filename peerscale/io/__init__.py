"""Read what evaluators' data systems export, and write scores back in the formats teams use.

``read_table`` returns a :class:`Table` (data plus labels, missing codes and REDCap ids);
``write_table`` writes a DataFrame atomically, refusing to overwrite unless told to.
"""

from __future__ import annotations

from .read import detect_format, read_table
from .table import OutputMeta, Table
from .write import write_table

__all__ = ["Table", "OutputMeta", "read_table", "write_table", "detect_format"]
