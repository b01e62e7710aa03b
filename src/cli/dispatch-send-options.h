/* dispatch-send-options.h — dispatch-send's command line: the options and what they require.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PROGRAM_NAME "dispatch-send"

typedef struct
{
  char     *server;
  char     *security;
  char     *user;
  char     *password_file;
  char     *password_env;
  char     *oauth2_token_file;
  char     *auth;
  gboolean  allow_plaintext_auth;
  char     *from;
  char    **to;
  char    **cc;
  char    **bcc;
  char     *subject;
  char     *body;
  char     *body_file;
  char    **attach;
  char     *ca_file;
  char     *pin_sha256;
  guint     timeout;           /* 0: the account's default */
  guint     max_time;          /* 0: no limit on the whole send */
  char     *helo;
  gboolean  transcript;
  char     *output;
  gboolean  quiet;
  gboolean  version;
} DispatchSendOptions;


void            dispatch_send_options_clear          (DispatchSendOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DispatchSendOptions, dispatch_send_options_clear)

/* The parser for @options, which must outlive it; --help text and exit codes included. */
GOptionContext *dispatch_send_options_create_context (DispatchSendOptions *options);
/* What GOptionContext cannot check: required options and combinations. G_OPTION_ERROR. */
gboolean        dispatch_send_options_check          (DispatchSendOptions  *options,
                                                      int                   argc,
                                                      char                **argv,
                                                      GError              **error);

G_END_DECLS
