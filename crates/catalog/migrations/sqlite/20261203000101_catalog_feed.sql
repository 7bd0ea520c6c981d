-- The node that publishes a procedure, when it is not this one (the national node for a
-- local node, a local node for the national node). Only that node makes its versions.
ALTER TABLE procedures ADD COLUMN origin TEXT;

-- Every change of the catalogue in the order it was made: what a federated node pulls or
-- receives, a page at a time after the last number it has.
CREATE TABLE catalog_feed (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL CHECK (kind IN ('field', 'agency', 'procedure')),
    code     TEXT NOT NULL,
    version  BIGINT,
    at       TEXT NOT NULL
);

-- What is stored already, once: fields, then agencies, then every version of every procedure.
INSERT INTO catalog_feed (kind, code, version, at)
SELECT 'field', code, NULL, updated_at FROM fields ORDER BY code;
INSERT INTO catalog_feed (kind, code, version, at)
SELECT 'agency', code, NULL, updated_at FROM agencies ORDER BY code;
INSERT INTO catalog_feed (kind, code, version, at)
SELECT 'procedure', code, version, created_at FROM procedure_versions ORDER BY created_at, code, version;
