.PHONY: demo serve test setup runtime bench clean lock

# Make sample recordings in three docked "recorders" and offload them into the embedded archive.
demo: runtime
	.venv-run/bin/liuhen demo

# The console and API on http://127.0.0.1:8470/ with the embedded station and media workers.
serve: runtime
	.venv-run/bin/liuhen serve

# The whole test suite (SQLite and PostgreSQL, real ffmpeg, a real S3-compatible server).
test:
	scripts/test.sh

# the development and test environment (.venv, from requirements-test.lock)
setup:
	scripts/bootstrap.sh

# the runtime environment (.venv-run, from requirements.lock): liuhen without any test tool
runtime:
	scripts/bootstrap.sh --runtime

bench: setup
	.venv/bin/python bench/ingest_throughput.py

clean:
	rm -rf var bench/out

# re-make both lock files from pyproject.toml (needs pip-tools and PyPI); commit the result
lock:
	.venv/bin/pip install -q pip-tools
	for extra in "" test; do \
	  out=requirements$${extra:+-$$extra}.lock; \
	  .venv/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
	    --no-emit-find-links $${extra:+--extra $$extra} -o $$out \
	    pyproject.toml requirements-build.in; \
	done
