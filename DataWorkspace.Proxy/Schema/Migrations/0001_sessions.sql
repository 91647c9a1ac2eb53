-- The proxy's signed-in sessions: the browser's cookie holds only a session's id (see SignIn/SessionStore.cs).
CREATE TABLE proxy.sessions (
    id varchar(64) PRIMARY KEY,
    user_id varchar(255) NOT NULL,
    ticket bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- When the identity provider last confirmed the session's user (or they signed in): see SignIn/SessionCheck.cs.
    checked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_sessions_expires_at ON proxy.sessions (expires_at);
CREATE INDEX ix_sessions_checked_at ON proxy.sessions (checked_at);
CREATE INDEX ix_sessions_user_id ON proxy.sessions (user_id);

-- The Data Protection keys that encrypt the sessions' tickets and the sign-in flow's cookies, shared by every replica.
CREATE TABLE proxy.data_protection_keys (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    friendly_name varchar(255) NOT NULL,
    xml text NOT NULL,
    CONSTRAINT ux_data_protection_keys_friendly_name UNIQUE (friendly_name)
);
