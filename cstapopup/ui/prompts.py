"""The app's questions to the user that are not settings: what to do on a first start without
a PBX, and the PBX's (or the broker's) password when it is kept nowhere.  Both are
non-blocking dialogs.  Their titles say what they are about; Qt adds the application's name
("Welcome — cstapopup")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from cstapopup.i18n import translate
from cstapopup.settings import LINK_GATEWAY

if TYPE_CHECKING:
    from cstapopup.ui.controller import AppController


def first_run_message_box(controller: AppController) -> None:
    """Offer the demo or the settings (the choice calls `start_demo()` / `open_settings()`)."""
    window = controller.history
    box = QMessageBox(
        QMessageBox.Icon.Question,
        translate("Prompts", "Welcome"),
        translate(
            "Prompts",
            "No PBX is set up yet.\n\nTry cstapopup with a "
            "simulated PBX and made-up calls, or enter your PBX's address "
            "and the phones to watch.",
        ),
        parent=window if window is not None and window.isVisible() else None,
    )
    box.setObjectName("firstRun")
    demo = box.addButton(translate("Prompts", "Try the &demo"), QMessageBox.ButtonRole.AcceptRole)
    settings = box.addButton(
        translate("Prompts", "Open &settings…"), QMessageBox.ButtonRole.ActionRole
    )
    box.addButton(translate("Prompts", "&Later"), QMessageBox.ButtonRole.RejectRole)

    def clicked(button: Any) -> None:
        if button is demo:
            controller.start_demo()
        elif button is settings:
            controller.open_settings()

    box.buttonClicked.connect(clicked)
    box.setModal(False)
    controller.keep(box)
    box.show()


def password_input_dialog(controller: AppController, done: Callable[[str | None], None]) -> None:
    """Ask for the PBX password (or, through the office gateway, the broker's); `done(text)`,
    or `done(None)` when cancelled."""
    dialog = QInputDialog()
    settings = controller.settings
    if settings.connection == LINK_GATEWAY:
        dialog.setWindowTitle(translate("Prompts", "Broker password"))
        dialog.setLabelText(
            translate("Prompts", "Password for {user} at {host}:").format(
                user=settings.get("gateway.user"), host=settings.get("gateway.broker")
            )
        )
    else:
        dialog.setWindowTitle(translate("Prompts", "PBX password"))
        dialog.setLabelText(
            translate("Prompts", "Password for {user} at {host}:").format(
                user=settings.get("pbx.user"), host=settings.get("pbx.host")
            )
        )
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    dialog.textValueSelected.connect(lambda text: done(text))
    dialog.rejected.connect(lambda: done(None))
    controller.keep(dialog)
    dialog.open()
