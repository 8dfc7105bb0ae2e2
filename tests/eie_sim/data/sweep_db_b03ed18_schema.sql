-- the tables of a sweep.db written by eie-sweep at b03ed18 (sqlite3 .dump)
CREATE TABLE layers (
    point INTEGER NOT NULL REFERENCES points(point), idx INTEGER NOT NULL,
    layer TEXT NOT NULL, cycles REAL, time_us REAL, energy_uj REAL,
    config_hash TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (point, idx));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE points (
    point INTEGER PRIMARY KEY, params TEXT NOT NULL, config TEXT NOT NULL,
    config_hash TEXT NOT NULL, error TEXT NOT NULL, figures TEXT NOT NULL,
    wall_s REAL, finished_unix REAL);
