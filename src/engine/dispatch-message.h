/* dispatch-message.h — the e-mail being composed: fields → GMime tree, envelope, streaming writer.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_MESSAGE (dispatch_message_get_type ())

G_DECLARE_FINAL_TYPE (DispatchMessage, dispatch_message, DISPATCH, MESSAGE, GObject)

/* Called from dispatch_message_write() as bytes go out; @written counts wire bytes. */
typedef void (*DispatchMessageProgressFunc) (guint64  written,
                                             gpointer user_data);

DispatchMessage *dispatch_message_new              (void);

/* Each setter takes the text as the user typed it. Address fields accept RFC 5322 lists
 * ("Ann <ann@example.org>, bob@example.org"); validation happens in _prepare(). */
void             dispatch_message_set_from         (DispatchMessage *self, const char *from);
const char      *dispatch_message_get_from         (DispatchMessage *self);
void             dispatch_message_set_to           (DispatchMessage *self, const char *to);
const char      *dispatch_message_get_to           (DispatchMessage *self);
void             dispatch_message_set_cc           (DispatchMessage *self, const char *cc);
const char      *dispatch_message_get_cc           (DispatchMessage *self);
void             dispatch_message_set_bcc          (DispatchMessage *self, const char *bcc);
const char      *dispatch_message_get_bcc          (DispatchMessage *self);
void             dispatch_message_set_subject      (DispatchMessage *self, const char *subject);
const char      *dispatch_message_get_subject      (DispatchMessage *self);
/* UTF-8 text; any line ending. */
void             dispatch_message_set_text         (DispatchMessage *self, const char *text);
const char      *dispatch_message_get_text         (DispatchMessage *self);

/* A file is attached once however often it is added, as a GFile or by its path. One that
 * can be read only once (a pipe, a device, a remote file without a local path) is copied at
 * the first _prepare() into a private temporary file (mode 0600, its name removed at once),
 * from which every later read comes. */
void             dispatch_message_add_attachment   (DispatchMessage *self, GFile *file);
/* A local file by its name (relative to the current folder, or absolute), as on a command
 * line; the same as adding g_file_new_for_path (@path), but read without GIO's VFS, which
 * spares a small program several hundred KiB of memory. */
void             dispatch_message_add_attachment_path (DispatchMessage *self, const char *path);
void             dispatch_message_remove_attachment (DispatchMessage *self, GFile *file);
void             dispatch_message_clear_attachments (DispatchMessage *self);
guint            dispatch_message_get_n_attachments (DispatchMessage *self);

/* Validates every field and builds the MIME tree. Must be called (again) after a change and
 * before the getters below. @allow_8bit: the server offers 8BITMIME, so the text part may go
 * as 8bit; @allow_utf8_headers: the server offers SMTPUTF8 (headers/addresses may stay raw).
 * Reads the start of each attachment to sniff its type; does not load them (except a pipe
 * or another file that cannot be read twice, which is spooled, see above).
 * Errors: DISPATCH_ERROR_INVALID_INPUT naming the field ("To", "Subject", …) for a bad address,
 * a missing sender or recipient, or CR/LF in a header field; DISPATCH_ERROR_FILE naming the
 * file for an unreadable attachment. */
gboolean         dispatch_message_prepare          (DispatchMessage *self,
                                                    gboolean         allow_8bit,
                                                    gboolean         allow_utf8_headers,
                                                    GCancellable    *cancellable,
                                                    GError         **error);

/* After _prepare(): the envelope. The sender's addr-spec, and every To/Cc/Bcc addr-spec once. */
const char      *dispatch_message_get_envelope_from (DispatchMessage *self);
/* (transfer none) NULL-terminated */
const char * const *dispatch_message_get_envelope_recipients (DispatchMessage *self);
/* After _prepare(): the message needs BODY=8BITMIME / SMTPUTF8 to be sent as built. */
gboolean         dispatch_message_needs_8bitmime   (DispatchMessage *self);
gboolean         dispatch_message_needs_smtputf8   (DispatchMessage *self);

/* After _prepare(): the exact size in octets of the message as written by _write() without
 * dot-stuffing (CRLF line ends). Opens each attachment for its length. Valid while the files
 * do not change. */
guint64          dispatch_message_get_size         (DispatchMessage *self,
                                                    GCancellable    *cancellable,
                                                    GError         **error);

/* After _prepare(): streams the message onto @stream with CRLF line ends, dot-stuffed when
 * @dot_stuff (for DATA; not for BDAT or .eml). Attachments are read and encoded as they are
 * written: memory does not grow with their size. Does not write the final ".\r\n". */
gboolean         dispatch_message_write            (DispatchMessage            *self,
                                                    GOutputStream              *stream,
                                                    gboolean                    dot_stuff,
                                                    DispatchMessageProgressFunc progress,
                                                    gpointer                    progress_data,
                                                    GCancellable               *cancellable,
                                                    GError                    **error);

/* After _prepare(): writes the .eml file (exactly the wire bytes, minus dot-stuffing). */
gboolean         dispatch_message_write_to_file    (DispatchMessage *self,
                                                    GFile           *file,
                                                    GCancellable    *cancellable,
                                                    GError         **error);

/* After _prepare(): the message source as text, for "View message source". Attachment bodies
 * larger than @max_attachment_bytes (encoded) are cut with a note; 0 means no limit. */
char            *dispatch_message_to_string        (DispatchMessage *self,
                                                    gsize            max_attachment_bytes,
                                                    GError         **error);

G_END_DECLS
