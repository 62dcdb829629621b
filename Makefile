.PHONY: demo serve test setup bench clean

# Make sample recordings in three docked "recorders" and offload them into the embedded archive.
demo: setup
	.venv/bin/liuhen demo

# The console and API on http://127.0.0.1:8470/ with the embedded station and media workers.
serve: setup
	.venv/bin/liuhen serve

# The whole test suite (SQLite and PostgreSQL, real ffmpeg, a real S3-compatible server).
test:
	scripts/test.sh

setup:
	scripts/bootstrap.sh

bench: setup
	.venv/bin/python bench/ingest_throughput.py

clean:
	rm -rf var bench/out
