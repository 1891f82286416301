"""Training: the run owner and the study runner, the fit helper with exact resume, callbacks,
training curves, the report, seeds, strategies and run directories."""

from tfml.training.callbacks import (
    AtomicCheckpoint,
    EpochMetrics,
    EpochTimer,
    ImageSummary,
    LossStateOutOfValidation,
    Monitor,
    ResumableBackup,
    StopOnDivergence,
    first_divergence,
)
from tfml.training.curves import training_curves
from tfml.training.fit import (
    TrainingInterrupted,
    check_data_service,
    completed_epochs,
    fit,
    progress_verbosity,
    read_history,
)
from tfml.training.metrics import PSNR, psnr
from tfml.training.report import write_report
from tfml.training.run import (
    Run,
    StudyConfig,
    flatten,
    get_strategy,
    is_chief,
    is_tfml_run,
    loopback_tf_configs,
    prepare_run_dir,
    set_seed,
    tf_config,
    update_run_record,
    versions,
    worker_task,
)
from tfml.training.study import run_study
