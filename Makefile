# Two commands do everything on a fresh machine:
#   make demo         set up, start the Cloudflare API emulator, rotate a PSK and hand it to a router config
#   make test         every test (each phase timed: the table at the end; docs/testing.md)
#   make test-quick   the inner loop: unit, emulator and a representative integration subset, primary core only
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYVERSION ?= 3.12
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=
# Three workers for two cores: a test spends part of its time waiting (on ansible-playbook's pipes, the
# simulators' sessions, the verification loops), and with two workers the cores were about 80% busy. Measured
# on this 2-core machine, idle (docs/testing.md): primary tests 1,482 s with 2 workers, 1,212 s with 3; the
# 2.16 line 201 s with 2, 170 s with 3, 229 s with 4. worksteal: a worker that runs dry takes queued tests
# from another, so one long test queued last does not leave a core idle at the end of a run.
PYTEST_WORKERS ?= 3
XDIST = -n $(PYTEST_WORKERS) --dist worksteal
# Every phase of `make test` runs under tests/tools/phase, which records its seconds here; the table is printed
# at the end (and by .ci/run, also when a phase failed). Logs of the phases run in the background go to CI_LOGS.
export PHASE_TIMES ?= $(CURDIR)/tests/output/phase-times.tsv
CI_LOGS ?= tests/output/ci
PHASE := tests/tools/phase

.PHONY: docsite help venv router-venv system-deps test test-quick primary checks compat-timed compat-venvs-j3 network-collections unit \
  integration integration-targets integration-targets-compat demo emulator clean compat compat-venvs sanity \
  sanity-compat lint bench reliability

help:
	@echo "make demo         rotate a PSK against the local emulator and render a strongSwan config"
	@echo "make test         run every test, each phase timed (docs/testing.md)"
	@echo "make test-quick   unit, emulator and a representative integration subset on the primary core (minutes)"
	@echo "make bench        ipsec_psk vs uri vs ping per task, requests per key, fleet pacing (docs/benchmarks.md)"

# uv installs the venvs' packages: the same pins, resolved to the same versions as pip, in 12 s instead of
# pip's 62 s for the primary venv on a machine with empty caches (downloads included; docs/testing.md), with
# the bytecode compiled as pip does. uv itself comes from PyPI into the primary venv (pinned in
# tests/constraints.txt); pip stays in every venv (python -m venv), for the tools that call it.
UV := $(VENV)/bin/uv
UV_INSTALL = $(UV) pip install --quiet --compile-bytecode

# The primary venv is made on Debian 13's python3.13 when tests/tools/optimised-venv can fetch it (profile-guided
# and link-time optimised: 0.77 of the CPU of pyenv's 3.12 for ansible-core 2.21's playbooks, docs/testing.md),
# else on find-python's $(PYVERSION). OPTIMISED_PYTHON=no skips the former.
OPTIMISED_PYTHON ?= yes
$(VENV)/.installed: tests/requirements.txt tests/constraints.txt requirements.txt
	@if [ "$(OPTIMISED_PYTHON)" = yes ] && tests/tools/optimised-venv $(VENV); then :; else \
	  python_bin="$$(tests/tools/find-python $(PYVERSION))" && "$$python_bin" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check uv -c tests/constraints.txt
	$(UV_INSTALL) --python $(PY) -r tests/requirements.txt -c tests/constraints.txt
	@touch $@

# Module processes compile what they import from their AnsiballZ zip anew each time; every venv that runs them
# keeps that bytecode (tests/tools/ansiballz_bytecode.py: the same code, about 30% less CPU per module process),
# and what the controller's processes compile again in each (collection plugins, templates, dataclasses); there,
# ansible-playbook also loads the Jinja filter and test plugins once before it forks each task worker.
# The routers of the test inventories run theirs on .venv-router: a venv on the distribution's python3 with its
# packages (tests/support/router_python.py), made where that python3 is 3.9 or newer.
ROUTER_VENV := .venv-router
BYTECODE_HOOK := tests/tools/ansiballz_bytecode.py
%/.ansiballz-bytecode: $(BYTECODE_HOOK) | %/.installed
	$(PY) $(BYTECODE_HOOK) --install $*
	@touch $@
$(ROUTER_VENV)/.installed:
	@if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then \
	  /usr/bin/python3 -m venv --system-site-packages --without-pip $(ROUTER_VENV) && touch $@; \
	else echo "no /usr/bin/python3 of 3.9 or newer: the routers' modules run on $(PY)"; fi
router-venv: $(ROUTER_VENV)/.installed
	@if [ -e $(ROUTER_VENV)/.installed ]; then $(MAKE) -s --no-print-directory $(ROUTER_VENV)/.ansiballz-bytecode; fi

venv: $(VENV)/.installed $(VENV)/.ansiballz-bytecode router-venv

# Debian packages some tests need (strongSwan for the IKE end-to-end test); installed only when root.
system-deps:
	@bash tests/tools/system-deps

# `make test`, phase by phase (docs/testing.md). The tests are CPU-bound on two cores but leave some of them
# idle (waits on the package index, on retries, on verification loops), so some phases run beside others:
# - beside the primary core's tests: the older cores' venvs and the network collections (both mostly wait on
#   the package index), and ansible-test sanity (its first run builds a venv per test, then about one core);
# - beside the older cores' tests: the ansible-test integration targets and the linters (about one core).
# A background phase's output is kept in $(CI_LOGS) and printed when the phase it ran beside is done. A failing
# phase fails `make test`, once the phases beside it have finished (nothing is left running).
BESIDE_PRIMARY = "venvs of the older cores" compat-venvs-j3 "network collections" network-collections "sanity" sanity
BESIDE_COMPAT = "integration targets" integration-targets "lint: ansible-lint, changelog, docs" lint
test:
	@rm -f "$(PHASE_TIMES)"; mkdir -p $(CI_LOGS)
	@$(PHASE) "system deps (beside the primary venv)" $(MAKE) --no-print-directory system-deps & deps=$$!; \
	  $(PHASE) "venv, primary core" $(MAKE) --no-print-directory venv; status=$$?; \
	  wait $$deps || status=1; exit $$status
	@MAKE="$(MAKE)" tests/tools/beside "the primary tests" $(CI_LOGS) $(BESIDE_PRIMARY) -- \
	  $(PHASE) "pytest, primary core" $(MAKE) --no-print-directory primary
	@MAKE="$(MAKE)" tests/tools/beside "the older cores' tests" $(CI_LOGS) $(BESIDE_COMPAT) -- \
	  $(MAKE) --no-print-directory compat-timed
	@echo "== phases (seconds; docs/testing.md)" && $(PHASE) --table

# The primary core's run of every test (pytest's closing line is the one CI reads).
primary: venv system-deps
	$(PY) -m pytest tests $(XDIST) -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

# The older lines one after the other, each timed.
compat-timed: compat-venvs
	@for line in $(COMPAT_LINES); do \
	  $(PHASE) "pytest, ansible-core $$line" $(MAKE) --no-print-directory compat-$$line || exit 1; done

compat-venvs-j3:
	@$(MAKE) --no-print-directory -j3 compat-venvs

network-collections: venv
	$(PY) tests/tools/network_collections.py .venv/network-collections

# The checks that are not pytest, each timed: ansible-test integration targets and sanity, the linters.
checks: venv
	@$(PHASE) "integration targets" $(MAKE) --no-print-directory integration-targets
	@$(PHASE) "sanity" $(MAKE) --no-print-directory sanity
	@$(PHASE) "lint: ansible-lint, changelog, docs" $(MAKE) --no-print-directory lint

# The inner loop (docs/testing.md): every unit test, the emulator's and the device simulators' own tests, and a
# representative integration subset (the module end to end, bad input, diff, the leak matrix's --diff group:
# a plain rotation with --diff, one role platform over network_cli), on the primary core only. Not a substitute
# for `make test`. (The whole leak matrix is 26 rows in 8 groups of six runs: about 100 s on two idle cores.)
QUICK_TESTS ?= tests/unit tests/emulator tests/devices tests/integration/test_rotate.py \
  tests/integration/test_bad_input.py tests/integration/test_diff.py \
  "tests/integration/test_leaks.py::test_leaks[diff]" tests/integration/test_role_vyos.py
test-quick: venv
	$(PY) -m pytest $(QUICK_TESTS) $(XDIST) -p no:cacheprovider --durations=10 $(PYTEST_ARGS)

# The oldest admitted release of every older ansible-core line that meta/runtime.yml admits, each in its own
# venv with its own pins (tests/constraints-<line>.txt), on Python 3.11 (2.20 needs 3.12): the distribution's
# build where there is one, which runs ansible-core's processes about a sixth cheaper than pyenv's
# (tests/tools/find-python, tests/benchmarks/interpreters.py). The IKE end-to-end test (marker e2e) runs on
# the primary venv only.
COMPAT_PYVERSION ?= 3.11
COMPAT_PYVERSION_2.20 ?= 3.12
COMPAT_PYVERSION_2.21 ?= 3.12
# 2.21.0 runs on the primary venv's Debian 13 python3.13 where tests/tools/optimised-venv can make it (about a
# sixth cheaper than pyenv's 3.12 for its loop matrix, docs/testing.md); 2.20 keeps a 3.12 controller tested.
COMPAT_OPTIMISED_LINES ?= 2.21
# 2.21 is here too: the primary venv has the newest 2.21 release, this one the oldest (2.21.0).
COMPAT_LINES ?= 2.16 2.17 2.18 2.19 2.20 2.21
# Every line runs the loop x callback leak matrix: whether a loop's result is censored is ansible-core's
# doing and changed between and within lines (docs/reliability.md). 30-45 s a line on two shared cores.
# Its escrow cells (the role's escrowed rotation against OpenBao, default and json callbacks, -vvv, log_path) run
# from 2.17 on and are skipped on 2.16: community.hashi_vault 7.1.0 of the pinned ansible wheel requires 2.17.
LOOP_MATRIX ?= tests/integration/test_loop_callbacks.py
# The other unit, integration and AWX tests run on two lines only, to keep CI short: 2.16,
# the oldest core API the collection admits, and 2.19, the first line with data tagging (templating and
# no_log handling rewritten). On 2.17, 2.18 and 2.20 the loop matrix still runs the module end to end.
COMPAT_FULL_LINES ?= 2.16 2.19
COMPAT_TESTS ?= tests/unit/plugins tests/integration tests/awx
# Left out on the older lines, to keep CI short: the matrices whose outcome depends on the collection's own
# code only (faults, pacing and its state, concurrency, proxies, deadlines, request counts, the rotation
# decision of the convergence runs, the role's runs and the report's), not on ansible-core, and the network
# platforms' runs against the device simulators (minutes each), and the role's escrow runs against OpenBao
# (community.hashi_vault 7.1.0 of the pinned ansible wheel declares requires_ansible >= 2.17). The role's
# loop x callback cells still run it end to end (bulk rotation, hand-off, no_log) on every line. The emulator's own tests are not in COMPAT_TESTS.
COMPAT_IGNORE ?= tests/integration/test_faults.py tests/integration/test_pacing.py tests/integration/test_concurrency.py \
  tests/integration/test_pacing_forks.py tests/integration/test_pacing_state.py tests/integration/test_client_bounds.py \
  tests/integration/test_proxy.py tests/integration/test_request_budget.py tests/integration/test_example_convergence.py \
  tests/integration/test_role_interleaving.py tests/integration/test_example_psk_age_report.py \
  tests/integration/test_role_vyos.py tests/integration/test_role_ios_xe.py tests/integration/test_example_network_playbooks.py tests/integration/test_role_escrow.py \
  tests/integration/test_role_junos.py \
  tests/integration/test_role_fortios.py \
  tests/integration/test_role_strongswan.py tests/integration/test_role_bulk.py tests/integration/test_tunnel_info.py \
  tests/integration/test_psk_age_report_platforms.py tests/integration/test_psk_age_report_render.py \
  tests/integration/test_readme_role_example.py tests/integration/test_future_key_stamp.py
# Deselected on the older lines: ipsec_tunnel_info's loop cells and leak groups (its result never holds a key or
# an MD5 key, so what a core prints of it cannot differ; the primary core runs them).
# The SRX's cells (a NETCONF role run each) keep one callback there, json: the SRX cell of every admitted core;
# the primary core runs all five.
COMPAT_DESELECT ?= not test_info_loop_callbacks and not (test_leaks and info) \
  and not (test_role_junos_callbacks and (default or jsonl or junit or tree))
# ansible-core 2.19.0 cannot run ansible.netcommon's persistent connections (network_cli, netconf) of the pinned
# collections: every task fails "Unknown profile name 'module_None_m2c'" (httpapi, FortiGate's, works). The SRX
# cell and the VyOS hostile-answer run pass on 2.16.13, 2.17, 2.18, 2.20.0, 2.21.0 and the primary 2.21.
COMPAT_DESELECT_2.19 ?= not test_role_junos_callbacks and not test_vyos_is_sent_nothing

# Kept when made on the way to a compat-<line> run (make would delete an implicit chain's middle file).
.PRECIOUS: .venv-%/.installed %/.ansiballz-bytecode
.venv-%/.installed: tests/requirements-compat.txt tests/constraints-%.txt requirements.txt | $(VENV)/.installed
	@if [ "$(OPTIMISED_PYTHON)" = yes ] && [[ " $(COMPAT_OPTIMISED_LINES) " == *" $* "* ]] && tests/tools/optimised-venv .venv-$*; \
	then :; else python_bin="$$(tests/tools/find-python $(or $(COMPAT_PYVERSION_$*),$(COMPAT_PYVERSION)))" && \
	  "$$python_bin" -m venv .venv-$*; fi
	$(UV_INSTALL) --python .venv-$*/bin/python -r tests/requirements-compat.txt -c tests/constraints-$*.txt
	@touch $@

compat-venvs: $(foreach line,$(COMPAT_LINES),.venv-$(line)/.installed .venv-$(line)/.ansiballz-bytecode)

compat: compat-venvs
	@for line in $(COMPAT_LINES); do $(MAKE) --no-print-directory compat-$$line || exit 1; done

# One older line: `make compat-2.16`.
compat-%: .venv-%/.installed .venv-%/.ansiballz-bytecode
	@tests="$(LOOP_MATRIX)" && what="the loop x callback leak matrix"; \
	  case " $(COMPAT_FULL_LINES) " in *" $* "*) tests="$(COMPAT_TESTS)" && what="unit, integration and AWX tests";; esac; \
	  echo "== $$what on ansible-core $$(.venv-$*/bin/python -c 'from ansible.release import __version__ as v; print(v)')"; \
	  .venv-$*/bin/python -m pytest $$tests $(addprefix --ignore=,$(COMPAT_IGNORE)) -m "not e2e" -k "$(COMPAT_DESELECT)$(if $(COMPAT_DESELECT_$*), and $(COMPAT_DESELECT_$*))" $(XDIST) -q -p no:cacheprovider

# ansible-test sanity, offline (see tests/tools/sanity), with the primary ansible-core. `make sanity-compat`
# runs it with each older line too (not part of `make test`, for CI time).
sanity: venv
	tests/tools/sanity $(PY)

# Not on 2.16: its ansible-test still holds plugins to the Python 2 boilerplate checks, which ansible-lint's
# production profile forbids ignoring; the collection's code is Python 3 only (it runs on the controller).
SANITY_COMPAT_LINES ?= $(filter-out 2.16,$(COMPAT_LINES))
sanity-compat: $(foreach line,$(SANITY_COMPAT_LINES),.venv-$(line)/.installed)
	@for line in $(SANITY_COMPAT_LINES); do tests/tools/sanity .venv-$$line/bin/python || exit 1; done

# ansible-test integration targets (tests/integration/targets/), offline: each starts the emulator on
# loopback (see tests/tools/integration-targets). `make integration-targets-compat` runs them with each
# older line too (not part of `make test`, for CI time).
integration-targets: venv
	tests/tools/integration-targets $(PY)

integration-targets-compat: $(foreach line,$(COMPAT_LINES),.venv-$(line)/.installed)
	@for line in $(COMPAT_LINES); do tests/tools/integration-targets .venv-$$line/bin/python || exit 1; done

# The docs site (antsibull-docs + Sphinx, offline, warnings as errors) into docsite-out/build/html.
docsite: venv
	work="$$(mktemp -d)" && trap 'rm -rf "$$work"' EXIT && mkdir -p "$$work/ansible_collections/cloudflare" && \
	ln -s "$(CURDIR)" "$$work/ansible_collections/cloudflare/magic" && \
	PATH="$(abspath $(dir $(PY))):$$PATH" ANSIBLE_COLLECTIONS_PATH="$$work" docs/docsite/sphinx/build.sh docsite-out

# ansible-lint (production profile), antsibull-changelog lint, antsibull-docs lint-collection-docs.
lint: venv
	tests/tools/lint $(PY)

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# The fault, bad-input, leak and concurrency matrices as one table, with the loop x callback matrix of every
# admitted core line; also written to docs/reliability.md.
reliability: venv $(foreach line,$(COMPAT_LINES),.venv-$(line)/.installed)
	$(PY) tests/reliability/table.py --markdown docs/reliability.md $(foreach line,$(COMPAT_LINES),--also .venv-$(line)/bin/python) $(PYTEST_ARGS)

integration: venv system-deps
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

demo: venv system-deps
	$(PY) docs/examples/demo.py

# BENCH_ARGS, e.g. "--tasks 30 --repeats 5 --fleet 300 --forks 20 --quota 60 --window 3"
bench: venv
	$(PY) tests/benchmarks/bench.py $(BENCH_ARGS)

emulator: venv
	PYTHONPATH=tests/emulator $(PY) -m cf_emulator

clean:
	rm -rf $(VENV) .venv-2.* .venv-debian-python $(ROUTER_VENV) collections demo-out tests/output .pytest_cache
