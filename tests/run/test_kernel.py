"""The kernel manager of a run's notebooks (wb.run.kernel)."""

from __future__ import annotations

import asyncio
import signal

from wb.run.kernel import kernel_config


def test_a_finished_kernel_is_shut_down_without_an_interrupt(tmp_path):
    """jupyter_client's manager sends SIGINT before it asks a kernel to shut down; when the
    signal lands while the kernel handles a message, ipykernel writes "ERROR |
    KeyboardInterrupt caught in kernel" into the run log of a good run. The run's manager
    shuts down without it, and still interrupts a kernel when asked to."""
    config = kernel_config(tmp_path)
    manager = config.NotebookClient.kernel_manager_class(kernel_name="wb", config=config)
    sent: list[int] = []

    async def start_interrupt_and_shut_down() -> None:
        await manager.start_kernel()
        send = manager.provisioner.send_signal

        async def record(signum: int) -> None:
            sent.append(signum)
            await send(signum)

        manager.provisioner.send_signal = record
        try:
            await manager.interrupt_kernel()
        finally:
            await manager.shutdown_kernel()

    asyncio.run(start_interrupt_and_shut_down())
    assert manager.transport == "ipc"
    assert sent == [signal.SIGINT]
