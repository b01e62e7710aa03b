/* dispatch-application.h — the application: one instance, actions, command line, mailto: links.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_APPLICATION (dispatch_application_get_type ())

G_DECLARE_FINAL_TYPE (DispatchApplication, dispatch_application, DISPATCH, APPLICATION, AdwApplication)

DispatchApplication *dispatch_application_new (void);

G_END_DECLS
