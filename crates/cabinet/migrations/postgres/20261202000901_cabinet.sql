-- e-Cabinet: the meetings of an agency's leadership (the Government's, a People's Committee's)
-- and its opinion ballots (phiếu lấy ý kiến). The members of each body, the node's signing
-- authority and the members' signing keys; meetings with participants, agenda items,
-- documents (with who may read them and who did), notes and conclusions; ballots with their
-- questions, voters, signed votes (every revision kept) and the reminders sent.
CREATE TABLE cabinet_keys (
    name            TEXT PRIMARY KEY,
    key_pem         TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    serial          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE cabinet_member_keys (
    account_id      TEXT PRIMARY KEY,
    key_pem         TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    serial          TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE cabinet_members (
    body            TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    position        TEXT NOT NULL CHECK (position IN ('chair', 'member')),
    title           TEXT NOT NULL,
    added_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (body, account_id)
);
CREATE TABLE cabinet_meetings (
    id              TEXT PRIMARY KEY,
    body            TEXT NOT NULL,
    title           TEXT NOT NULL,
    starts_at       TIMESTAMPTZ NOT NULL,
    ends_at         TIMESTAMPTZ NOT NULL,
    place           TEXT NOT NULL,
    online_url      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'ended', 'concluded', 'cancelled')),
    conclusion      TEXT NOT NULL,
    notice_document TEXT,
    notice_signature BYTEA,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX cabinet_meetings_when ON cabinet_meetings (body, starts_at);
CREATE TABLE cabinet_participants (
    meeting_id      TEXT NOT NULL REFERENCES cabinet_meetings (id),
    account_id      TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('chair', 'member', 'secretariat', 'guest')),
    attendance      TEXT CHECK (attendance IN ('present', 'absent', 'excused')),
    attendance_note TEXT NOT NULL,
    PRIMARY KEY (meeting_id, account_id)
);
CREATE INDEX cabinet_participants_account ON cabinet_participants (account_id);
CREATE TABLE cabinet_items (
    meeting_id      TEXT NOT NULL REFERENCES cabinet_meetings (id),
    position        BIGINT NOT NULL,
    title           TEXT NOT NULL,
    presenter       TEXT NOT NULL,
    conclusion      TEXT NOT NULL,
    PRIMARY KEY (meeting_id, position)
);
CREATE TABLE cabinet_ballots (
    id              TEXT PRIMARY KEY,
    body            TEXT NOT NULL,
    meeting_id      TEXT,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'open', 'closed', 'published')),
    secret          BOOLEAN NOT NULL,
    deadline        TIMESTAMPTZ NOT NULL,
    digest          TEXT,
    tally           TEXT,
    summary_document TEXT,
    summary_signature BYTEA,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    opened_at       TIMESTAMPTZ,
    closed_at       TIMESTAMPTZ,
    published_at    TIMESTAMPTZ
);
CREATE INDEX cabinet_ballots_status ON cabinet_ballots (status, deadline);
CREATE TABLE cabinet_questions (
    ballot_id       TEXT NOT NULL REFERENCES cabinet_ballots (id),
    position        BIGINT NOT NULL,
    text            TEXT NOT NULL,
    PRIMARY KEY (ballot_id, position)
);
CREATE TABLE cabinet_voters (
    ballot_id       TEXT NOT NULL REFERENCES cabinet_ballots (id),
    account_id      TEXT NOT NULL,
    PRIMARY KEY (ballot_id, account_id)
);
CREATE INDEX cabinet_voters_account ON cabinet_voters (account_id);
CREATE TABLE cabinet_votes (
    id              TEXT PRIMARY KEY,
    ballot_id       TEXT NOT NULL REFERENCES cabinet_ballots (id),
    account_id      TEXT NOT NULL,
    revision        BIGINT NOT NULL,
    document        TEXT NOT NULL,
    signature       BYTEA NOT NULL,
    certificate_serial TEXT NOT NULL,
    cast_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (ballot_id, account_id, revision)
);
CREATE TABLE cabinet_reminders (
    ballot_id       TEXT NOT NULL REFERENCES cabinet_ballots (id),
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    sent_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ballot_id, account_id, kind)
);
CREATE TABLE cabinet_documents (
    id              TEXT PRIMARY KEY,
    meeting_id      TEXT REFERENCES cabinet_meetings (id),
    ballot_id       TEXT REFERENCES cabinet_ballots (id),
    item_position   BIGINT,
    title           TEXT NOT NULL,
    access          TEXT NOT NULL CHECK (access IN ('participants', 'members', 'confidential')),
    sha256          TEXT NOT NULL,
    size            BIGINT NOT NULL,
    content_type    TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    pages           BIGINT,
    source          TEXT NOT NULL,
    added_by        TEXT NOT NULL,
    added_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX cabinet_documents_meeting ON cabinet_documents (meeting_id);
CREATE INDEX cabinet_documents_ballot ON cabinet_documents (ballot_id);
CREATE TABLE cabinet_reads (
    document_id     TEXT NOT NULL REFERENCES cabinet_documents (id),
    account_id      TEXT NOT NULL,
    first_at        TIMESTAMPTZ NOT NULL,
    last_at         TIMESTAMPTZ NOT NULL,
    times           BIGINT NOT NULL,
    PRIMARY KEY (document_id, account_id)
);
CREATE TABLE cabinet_notes (
    id              TEXT PRIMARY KEY,
    meeting_id      TEXT NOT NULL REFERENCES cabinet_meetings (id),
    item_position   BIGINT,
    author          TEXT NOT NULL,
    text            TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX cabinet_notes_meeting ON cabinet_notes (meeting_id, at);
