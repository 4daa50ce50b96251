"""The SELECT list that copies one row of `backups` or `events` N times in PostgreSQL (n is the copy's
number): new ids and names, times one second apart before 2026, the rest as in the template row t."""
import sys

EARLIER = "timestamptz '2026-01-01 00:00:00+00' - n * interval '1 second'"
PICK = {
    "backups": {"id": "gen_random_uuid()", "name": "t.name || '-' || n", "tag": "md5(random()::text)", "operation_id": "NULL",
                "created_at": EARLIER, "updated_at": EARLIER, "completed_at": EARLIER},
    "events": {"at": EARLIER, "message": "t.message || ' #' || n"},
}
table, columns = sys.argv[1], sys.argv[2].split(",")
print(", ".join(PICK[table].get(c, "t." + c) for c in columns))
