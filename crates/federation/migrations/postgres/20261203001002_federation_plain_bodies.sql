-- The events' bodies are kept as the text the national node wrote: they are only ever read
-- back whole, so parsing them into JSONB on the way in and printing them on the way out was
-- work for nothing. The node and dossier ids are ASCII keys: they compare byte by byte
-- rather than by the database's locale.
ALTER TABLE federation_events
    ALTER COLUMN node_id TYPE TEXT COLLATE "C",
    ALTER COLUMN dossier_id TYPE TEXT COLLATE "C",
    ALTER COLUMN body TYPE TEXT USING body::text;

ALTER TABLE federation_dossiers
    ALTER COLUMN node_id TYPE TEXT COLLATE "C",
    ALTER COLUMN dossier_id TYPE TEXT COLLATE "C";
