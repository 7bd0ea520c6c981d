-- Administrative units with validity dates; old units stay as history.
CREATE TABLE admin_units (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level IN (1, 2)),
    parent_id   INTEGER REFERENCES admin_units (id),
    valid_from  TEXT,
    valid_to    TEXT
);
CREATE INDEX admin_units_code ON admin_units (code);
CREATE INDEX admin_units_parent ON admin_units (parent_id);

-- Which new units took over an old one, whole or in part.
CREATE TABLE admin_unit_successors (
    old_id  INTEGER NOT NULL REFERENCES admin_units (id),
    new_id  INTEGER NOT NULL REFERENCES admin_units (id),
    whole   INTEGER NOT NULL,
    PRIMARY KEY (old_id, new_id)
);

CREATE TABLE fields (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_en     TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE agencies (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    name_en        TEXT,
    parent_code    TEXT REFERENCES agencies (code),
    level          TEXT NOT NULL CHECK (level IN ('central', 'provincial', 'commune')),
    unit_id        INTEGER REFERENCES admin_units (id),
    province_code  TEXT,
    address        TEXT NOT NULL,
    phone          TEXT,
    email          TEXT,
    hours          TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX agencies_province ON agencies (province_code);

CREATE TABLE procedures (
    code             TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    field_code       TEXT NOT NULL REFERENCES fields (code),
    level            INTEGER NOT NULL,
    online           TEXT NOT NULL,
    audience         TEXT NOT NULL,
    time_limit_days  INTEGER NOT NULL,
    current_version  INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    view_count       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX procedures_field ON procedures (field_code);

-- Every version ever published; a dossier filed under one keeps pointing to it.
CREATE TABLE procedure_versions (
    code        TEXT NOT NULL REFERENCES procedures (code),
    version     INTEGER NOT NULL,
    spec        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (code, version)
);

CREATE TABLE procedure_agencies (
    code         TEXT NOT NULL REFERENCES procedures (code),
    agency_code  TEXT NOT NULL REFERENCES agencies (code),
    PRIMARY KEY (code, agency_code)
);
CREATE INDEX procedure_agencies_agency ON procedure_agencies (agency_code);
