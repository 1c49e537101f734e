-- Live calls of an org share its balance: each reserves the time it may still
-- run, and the sum of reservations never exceeds the balance, so however many
-- calls run at once the balance cannot go below zero. A call's reservation is
-- released when its end (and its cost) is written.
ALTER TABLE orgs ADD COLUMN reserved_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN reserved_micros BIGINT NOT NULL DEFAULT 0;
