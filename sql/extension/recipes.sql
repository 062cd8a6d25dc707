-- Fitted standardization recipes. A row is immutable once written: refitting under the same name adds
-- a version, so a model that stored a recipe id always finds the statistics it was trained with.

CREATE TABLE healthml.recipes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (btrim(name) <> ''),
    version     integer     NOT NULL CHECK (version > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  name        NOT NULL DEFAULT current_user,
    source      text        NOT NULL,
    options     jsonb       NOT NULL,
    recipe      jsonb       NOT NULL,
    UNIQUE (name, version)
);
COMMENT ON TABLE healthml.recipes IS
    'Standardization recipes fitted by healthml.standardize(): per column the action and the training-time statistics it uses.';

-- pg_dump keeps the rows of this extension-owned table, and its identity sequence's position.
SELECT pg_catalog.pg_extension_config_dump('healthml.recipes', '');
SELECT pg_catalog.pg_extension_config_dump('healthml.recipes_id_seq', '');
