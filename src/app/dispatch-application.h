/* dispatch-application.h — the application: one instance, actions, command line, mailto: links.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "dispatch-window.h"

G_BEGIN_DECLS

#define DISPATCH_TYPE_APPLICATION (dispatch_application_get_type ())

G_DECLARE_FINAL_TYPE (DispatchApplication, dispatch_application, DISPATCH, APPLICATION, AdwApplication)

DispatchApplication *dispatch_application_new (void);

/* A window to fill in from a mailto: link or the command line: one with an empty form and no
 * send under way, else a new one with a draft of its own. Not yet presented when new. */
DispatchWindow      *dispatch_application_get_compose_window (DispatchApplication *self);

G_END_DECLS
