# ndelab: the commands of the README's first screen.
#   make experiment NAME=linear_gaussian [ARGS="training.epochs=5"]
#   make sweep NAME=cvae_latent [JOBS=2]
#   make table NAME=cvae_latent [FORMAT=latex]
#   make test
CARGO ?= cargo
NAME ?= linear_gaussian
ARGS ?=
BIN := $(or $(CARGO_TARGET_DIR),target)/release/ndelab
RESULTS := $(or $(NDELAB_RESULTS),results)

.PHONY: build build-cuda experiment sweep table validate test test-hdf5 bench reliability clean-results

build:
	$(CARGO) build --release

# Training on an NVIDIA GPU (needs the CUDA toolkit; docs/gpu.md). The binary replaces
# the CPU one in target/release.
build-cuda:
	$(CARGO) build --release --features cuda

# Experiments whose data a script of the user's makes first.
PREPARE_files_example := python3 examples/files/make_files.py examples/files/data

experiment: build
	@test -f experiments/$(NAME).yaml || { echo "error: experiments/$(NAME).yaml does not exist; choose one of: $$(ls experiments/*.yaml | xargs -n1 basename | sed 's/\.yaml$$//' | tr '\n' ' ')" >&2; exit 2; }
	$(PREPARE_$(NAME))
	$(BIN) run experiments/$(NAME).yaml $(ARGS)

# A sweep in experiments/sweeps/ on this machine: make sweep NAME=cvae_latent [JOBS=2]
JOBS ?=
sweep: build
	@test -f experiments/sweeps/$(NAME).yaml || { echo "error: experiments/sweeps/$(NAME).yaml does not exist; choose one of: $$(ls experiments/sweeps/*.yaml | xargs -n1 basename | sed 's/\.yaml$$//' | tr '\n' ' ')" >&2; exit 2; }
	$(BIN) sweep experiments/sweeps/$(NAME).yaml $(if $(JOBS),--jobs $(JOBS)) $(ARGS)

# A paper table from a sweep's summary: make table NAME=cvae_latent [FORMAT=md|latex|csv|typst]
FORMAT ?= md
table: build
	$(BIN) table experiments/sweeps/$(NAME).yaml --format $(FORMAT) $(ARGS)

validate: build
	$(BIN) validate experiments/$(NAME).yaml $(ARGS)

# The whole test suite, in release mode (training is too slow unoptimised); what .ci/run calls.
# The tests that need Slurm or pdflatex are ignored unless TEST_ARGS=--include-ignored (.ci/run
# starts both first), so that a check that could not run is never counted as passed.
TEST_ARGS ?=
test:
	$(CARGO) test --release $(if $(TEST_ARGS),-- $(TEST_ARGS))

# The HDF5 reader (cargo feature `hdf5`; needs libhdf5-dev): its own tests and the files
# round trip, which with the feature also trains from .h5 files.
test-hdf5:
	$(CARGO) test --release --features hdf5 -- hdf5 a_dataset_exported_to_files

# The reliability figures of docs/reliability.md: hostile input (fuzzed readers, pinned bad specs, extreme
# numbers in every field), a test per class of damage, kills at random moments of run, eval,
# sweep, sample and reference, corruption and concurrency, a full disk. About 10 minutes.
KILLS ?= 250
reliability: build
	$(CARGO) test --release --test tests -- fuzz:: cli:: spec:: store:: evaluation:: reliability::
	$(CARGO) test --release --lib -- sim::command store::
	python3 scripts/kill_harness.py --bin $(BIN) --kills $(KILLS)
	scripts/full_disk.sh $(BIN)

# Side-by-side speed against peers: waveforms (bilby + lalsuite), training (PyTorch, zuko);
# builds bench/.venv on first use. `bench/run.sh train` runs only the training table.
bench:
	bench/run.sh

clean-results:
	rm -rf $(RESULTS)/cache $(RESULTS)/runs $(RESULTS)/sweeps $(RESULTS)/tables
