"""The reading contract published as a JSON Schema: generated from the parser's constants, and checked for changes
that would break producers already in the field. Not part of any Lambda asset (the processor needs neither)."""
