"""A compression in a background thread, so the app stays responsive while it runs."""

from __future__ import annotations

import threading
import traceback

from builder.errors import BuilderError


class CompressJob:
    """Runs compress_model for one run id in a thread; state: running | finished | failed."""

    def __init__(self, run_id: str, request, out_dir, store, project=None):
        self.run_id = run_id
        self.request = request
        self.out_dir = out_dir
        self.store = store
        self.project = project
        self.state = "running"
        self.message = ""
        self.result = None
        self.error_detail: str | None = None  # the traceback, for developers only
        self._thread = threading.Thread(target=self._run, name="compress", daemon=True)

    def start(self) -> CompressJob:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        from builder.compress import compress_model, load_trained
        from builder.compress.data import dataset_for

        try:
            trained = load_trained(self.run_id, self.store)
            name = self.store.get(self.run_id).dataset or ""
            dataset = dataset_for(name, trained.settings, self.request.train_fraction)
            self.result = compress_model(
                trained, dataset, self.request, self.out_dir, store=self.store, project=self.project
            )
            self.state, self.message = "finished", f"{self.result.report['method']}: done"
        except BuilderError as err:
            self.state, self.message = "failed", str(err)
        except Exception as err:  # any other fault: one plain line, the traceback kept aside
            self.error_detail = traceback.format_exc()
            self.state, self.message = "failed", f"compression failed: {type(err).__name__}: {err}"
