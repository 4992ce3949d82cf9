-- Declarative workflow definitions, versioned per name; the source text is kept as deployed.
CREATE TABLE definitions (
  name        TEXT NOT NULL,
  version     INTEGER NOT NULL,
  format      TEXT NOT NULL,
  source      TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
