-- The votes table. The UNIQUE constraint is the whole lesson: one vote per voter, enforced by
-- PostgreSQL itself, so no bug, race or retry in the application can ever count a phone twice.
CREATE TABLE IF NOT EXISTS votes (
    id       BIGSERIAL   PRIMARY KEY,
    voter_id TEXT        NOT NULL,
    choice   TEXT        NOT NULL,
    cast_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT one_vote_per_voter UNIQUE (voter_id)
);
