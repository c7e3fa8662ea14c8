#!/usr/bin/env python3
"""bilby + dynesty on an injection exported by `ndelab export-injections` from a `gw_network`
spec: the same whitened data, noise curves, priors and likelihood (GravitationalWaveTransient
without marginalisations), so that its posterior can be set beside ndelab's nested sampler
(`ndelab reference`) and its networks (`ndelab sample`) with `ndelab compare`.

    bench/.venv/bin/python bench/bilby_network_pe.py EXPORT_DIR INDEX OUT.csv [--nlive 1000]
        [--phase-marginalization]

Writes OUT.csv, the posterior in ndelab's parameter names (geocent_time relative to the
spec's reference_time, as ndelab stores it), and prints log Z, the likelihood calls and the
wall time. The data are un-whitened as the export's `whitening` entry says:
d_f = x * ASD * sqrt(duration) / 2 in the exported bins, zero elsewhere.
"""
import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import bilby

warnings.filterwarnings("ignore")
ap = argparse.ArgumentParser()
ap.add_argument("export", type=Path)
ap.add_argument("index", type=int)
ap.add_argument("out", type=Path)
ap.add_argument("--nlive", type=int, default=1000)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--phase-marginalization", action="store_true",
                help="marginalise the phase analytically (exact for (2,2)-only models such as "
                     "IMRPhenomXAS; the other parameters' posterior is unchanged and dynesty is faster)")
args = ap.parse_args()

meta = json.loads((args.export / "injections.json").read_text())
conv, names = meta["gw_network"], meta["parameters"]
if conv["domain"] != "frequency":
    raise SystemExit("this script reads frequency-domain exports (gw_network.domain: frequency)")
fs, T, tref = conv["sampling_frequency"], conv["duration"], conv["reference_time"]
x = np.load(args.export / "data.npy", mmap_mode="r")[args.index].astype(np.float64)
truth = dict(zip(names, np.load(args.export / "theta.npy")[args.index].astype(np.float64)))

ifos = bilby.gw.detector.InterferometerList(conv["detectors"])
per = x.size // len(ifos)
for k, ifo in enumerate(ifos):
    curve = conv["psd"][ifo.name]  # each detector's curve file, written into the export
    kind = "asd_file" if curve["kind"] == "asd" else "psd_file"
    ifo.power_spectral_density = bilby.gw.detector.PowerSpectralDensity(**{kind: str(args.export / curve["file"])})
    ifo.minimum_frequency, ifo.maximum_frequency = conv["f_min"], conv["f_max"]
    freqs = np.arange(int(fs * T) // 2 + 1) / T
    lo = int(np.ceil(conv["f_min"] * T - 1e-9))
    part = x[k * per:(k + 1) * per]
    n = per // 2
    asd = np.sqrt(np.interp(freqs[lo:lo + n], ifo.power_spectral_density.frequency_array,
                            ifo.power_spectral_density.psd_array, left=np.inf, right=np.inf))
    strain = np.zeros(freqs.size, dtype=complex)
    strain[lo:lo + n] = (part[:n] + 1j * part[n:]) * asd * np.sqrt(T) / 2
    strain[~np.isfinite(strain)] = 0
    ifo.set_strain_data_from_frequency_domain_strain(strain, sampling_frequency=fs, duration=T,
                                                     start_time=conv["start_time"])

with tempfile.NamedTemporaryFile("w", suffix=".prior", delete=False) as f:
    f.write("\n".join(conv["bilby_prior_file"]) + "\n")
priors = bilby.gw.prior.BBHPriorDict(f.name)
wfg = bilby.gw.WaveformGenerator(
    duration=T, sampling_frequency=fs, start_time=conv["start_time"],
    frequency_domain_source_model=bilby.gw.source.lal_binary_black_hole,
    parameter_conversion=bilby.gw.conversion.convert_to_lal_binary_black_hole_parameters,
    waveform_arguments=dict(waveform_approximant=conv["approximant"], reference_frequency=conv["f_ref"],
                            minimum_frequency=conv["f_min"]))
if args.phase_marginalization and conv["approximant"] != "IMRPhenomXAS":
    raise SystemExit("--phase-marginalization is exact only for (2,2)-only models (IMRPhenomXAS)")
# With it, bilby sets the phase prior to a delta function and integrates it in the likelihood.
like = bilby.gw.likelihood.GravitationalWaveTransient(ifos, wfg, priors=priors,
                                                      phase_marginalization=args.phase_marginalization)
# The fixed parameters (DeltaFunction priors) complete the injection.
inj = {k: float(v.peak) for k, v in priors.items() if isinstance(v, bilby.core.prior.DeltaFunction) and k != "phase"}
inj.update({k: v + (tref if k == "geocent_time" else 0.0) for k, v in truth.items()})
like.parameters.update(inj)
print(f"injection {args.index}: network SNR {np.load(args.export / 'snr.npy')[args.index][0]:.2f}, "
      f"log L at the truth {like.log_likelihood_ratio() + like.noise_log_likelihood():.3f}")

t0 = time.time()
with tempfile.TemporaryDirectory() as outdir:
    result = bilby.run_sampler(likelihood=like, priors=priors, sampler="dynesty", nlive=args.nlive,
                               outdir=outdir, label="pe", injection_parameters=inj, seed=args.seed,
                               npool=1, save=False, plot=False, check_point=False)
wall = time.time() - t0
post = result.posterior
post["geocent_time"] = post["geocent_time"] - tref
args.out.parent.mkdir(parents=True, exist_ok=True)
post[[n for n in names if n in post]].to_csv(args.out, index=False)
print(f"bilby {bilby.__version__} + dynesty, nlive {args.nlive}: {len(post)} posterior samples, "
      f"log Z {result.log_evidence:.3f} ± {result.log_evidence_err:.3f} (log Bayes factor against noise "
      f"{result.log_bayes_factor:.3f}), {result.num_likelihood_evaluations} likelihood calls, {wall:.0f} s")
