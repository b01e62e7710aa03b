/* dispatch-message-checks.c — the one address and header grammar: GMime's parser, our limits.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model's _prepare(), the builder and a form's live check all parse and judge addresses
 * here, so that what a window accepts is what a send accepts.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "dispatch-error.h"
#include "dispatch-gmime-private.h"
#include "dispatch-message-checks-private.h"
#include "dispatch-message-idn-private.h"
#include "dispatch-smtp-command.h"

/* How much of a bad address an error message quotes. */
#define QUOTE_MAX_CHARS   60
/* RFC 5321 §4.5.3.1: the longest local part and address (a 256-octet path less "<>") any
 * server must take; past them no server takes the address, nor can GMime fold it to fit the
 * 998-octet header line of RFC 5322. */
#define MAX_LOCAL_PART    64
#define MAX_ADDRESS       254
/* GMime 3.2 writes a group's name on one line however long it is (mailbox names it folds), so
 * a name much longer than this breaks RFC 5322's 998-octet line limit. Real group names
 * ("Undisclosed recipients", "Team") are a few words. */
#define MAX_GROUP_NAME    256

const char *
dispatch_message_field_label (MessageField field)
{
  /* Translators: the message fields as the compose window labels them; error messages quote
   * them, e.g. “The “To” field contains a line break”. */
  switch (field)
    {
    case FIELD_FROM:
      return C_("message field", "From");
    case FIELD_TO:
      return C_("message field", "To");
    case FIELD_CC:
      return C_("message field", "Cc");
    case FIELD_BCC:
      return C_("message field", "Bcc");
    case FIELD_SUBJECT:
      return C_("message field", "Subject");
    default:
      g_assert_not_reached ();
    }
}

gboolean
dispatch_message_is_blank (const char *text)
{
  if (text == NULL)
    return TRUE;

  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;

  return TRUE;
}

/* Header injection is refused here, before GMime sees the value: GMime would fold or drop
 * a line break, but the user should learn that the field holds one. A NUL cannot get past
 * the C string boundary of the setters. */
gboolean
dispatch_message_check_header_text (MessageField   field,
                                    const char    *value,
                                    GError       **error)
{
  if (strpbrk (value, "\r\n") != NULL)
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("Remove the line break from the field."),
                          _("The “%s” field contains a line break, which a message header cannot hold."),
                          dispatch_message_field_label (field));
      return FALSE;
    }

  if (!g_utf8_validate (value, -1, NULL))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          _("The “%s” field contains text that is not valid UTF-8."),
                          dispatch_message_field_label (field));
      return FALSE;
    }

  return TRUE;
}

/* A short, single-line excerpt of what the user typed, for an error message. */
static char *
quote_excerpt (const char *text)
{
  g_autofree char *piece = NULL;
  const char *comma = strchr (text, ',');

  piece = comma != NULL ? g_strndup (text, comma - text) : g_strdup (text);
  g_strstrip (piece);

  if (g_utf8_strlen (piece, -1) > QUOTE_MAX_CHARS)
    {
      g_autofree char *cut = g_utf8_substring (piece, 0, QUOTE_MAX_CHARS);
      return g_strconcat (cut, "…", NULL);
    }

  return g_steal_pointer (&piece);
}

typedef struct
{
  char *bad_item;   /* the first part of the list GMime skipped */
} ParseReport;

/* GMime's list parser skips what it cannot read and goes on; its warning is the only trace
 * of the skipped text, and a skipped recipient must be an error, not a silent drop. */
static void
on_parser_warning (gint64              offset,
                   GMimeParserWarning  code,
                   const char         *item,
                   gpointer            user_data)
{
  ParseReport *report = user_data;

  if (code == GMIME_WARN_INVALID_ADDRESS_LIST && report->bad_item == NULL)
    report->bad_item = g_strdup (item != NULL ? item : "");
}

static InternetAddressList *
parse_address_list (const char  *text,
                    char       **bad_item)
{
  g_autoptr(GMimeParserOptions) options = g_mime_parser_options_new ();
  ParseReport report = { NULL };
  InternetAddressList *list;

  g_mime_parser_options_set_address_compliance_mode (options, GMIME_RFC_COMPLIANCE_STRICT);
  g_mime_parser_options_set_allow_addresses_without_domain (options, FALSE);
  /* GMime 3.2.14 added a GDestroyNotify for the user data; Debian 12 has 3.2.13, the Flatpak
   * builds 3.2.15. The report lives on this stack frame, so there is nothing to destroy. */
#if GMIME_CHECK_VERSION (3, 2, 14)
  g_mime_parser_options_set_warning_callback (options, on_parser_warning, &report, NULL);
#else
  g_mime_parser_options_set_warning_callback (options, on_parser_warning, &report);
#endif

  list = internet_address_list_parse (options, text);
  if (list != NULL)
    dispatch_message_seed_idn (list);

  if (bad_item != NULL)
    *bad_item = g_steal_pointer (&report.bad_item);
  g_free (report.bad_item);

  return list;
}

/* GMime decodes whatever looks like an RFC 2047 word in a display name, so a name typed as
 * "=?utf-8?b?QQ0K?=" became a line break. Text is taken literally: "=?" is hidden from the
 * parser behind a private-use character the text does not hold, and put back in every name
 * and address after. */
#define LITERAL_MARK_FIRST 0x10FFFD
#define LITERAL_MARK_LAST  0xF0000

static char *
replace_all (const char *text,
             const char *from,
             const char *to)
{
  g_auto(GStrv) pieces = g_strsplit (text, from, -1);

  return g_strjoinv (to, pieces);
}

static void
unmark_addresses (InternetAddressList *list,
                  const char          *mark)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      const char *name = internet_address_get_name (address);

      if (name != NULL && strstr (name, mark) != NULL)
        {
          g_autofree char *literal = replace_all (name, mark, "=");

          internet_address_set_name (address, literal);
        }

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          unmark_addresses (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)), mark);
        }
      else
        {
          InternetAddressMailbox *mailbox = INTERNET_ADDRESS_MAILBOX (address);

          if (strstr (internet_address_mailbox_get_addr (mailbox), mark) != NULL)
            {
              g_autofree char *literal = replace_all (internet_address_mailbox_get_addr (mailbox),
                                                      mark, "=");

              g_clear_pointer (&mailbox->idn_addr, g_free);
              internet_address_mailbox_set_addr (mailbox, literal);
            }
        }
    }
}

InternetAddressList *
dispatch_message_parse_address_list (const char  *text,
                                     char       **bad_item)
{
  g_autofree char *marked = NULL;
  g_autofree char *hidden = NULL;
  InternetAddressList *list;
  char mark[8] = { 0 };
  gunichar c;

  if (strstr (text, "=?") == NULL)
    return parse_address_list (text, bad_item);

  for (c = LITERAL_MARK_FIRST; c >= LITERAL_MARK_LAST; c--)
    {
      memset (mark, 0, sizeof mark);
      g_unichar_to_utf8 (c, mark);
      if (strstr (text, mark) == NULL)
        break;
    }
  /* Text that holds every one of these private-use characters is parsed as it is. */
  if (c < LITERAL_MARK_LAST)
    return parse_address_list (text, bad_item);

  hidden = g_strconcat (mark, "?", NULL);
  marked = replace_all (text, "=?", hidden);
  list = parse_address_list (marked, bad_item);
  if (bad_item != NULL && *bad_item != NULL)
    {
      char *literal = replace_all (*bad_item, mark, "=");

      g_free (*bad_item);
      *bad_item = literal;
    }
  if (list != NULL)
    {
      unmark_addresses (list, mark);
      dispatch_message_seed_idn (list);
    }

  return list;
}

static gboolean
check_mailbox (MessageField             field,
               InternetAddressMailbox  *mailbox,
               gboolean                 allow_utf8_headers,
               gboolean                *uses_utf8,
               GError                 **error)
{
  const char *addr = internet_address_mailbox_get_addr (mailbox);
  const char *idn_addr;
  const char *domain;

  if (mailbox->at <= 0 || addr[mailbox->at + 1] == '\0')
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("An address needs a name before the “@” and a domain after it, like ann@example.org."),
                          /* Translators: the first %s is an address, the second a field name */
                          _("“%s” in the “%s” field is not a complete e-mail address."),
                          addr, dispatch_message_field_label (field));
      return FALSE;
    }

  /* Non-ASCII domains go out as their ASCII (punycode) form; if that fails, no server can
   * route it. */
  idn_addr = internet_address_mailbox_get_idn_addr (mailbox);
  domain = strrchr (idn_addr, '@');
  if (domain == NULL || !dispatch_message_is_ascii (domain + 1, -1))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          NULL,
                          /* Translators: the first %s is an address, the second a field name */
                          _("The domain of “%s” in the “%s” field is not a valid domain name."),
                          addr, dispatch_message_field_label (field));
      return FALSE;
    }

  if (domain - idn_addr > MAX_LOCAL_PART || strlen (idn_addr) > MAX_ADDRESS)
    {
      g_autofree char *excerpt = quote_excerpt (addr);

      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("An address has at most 64 characters before the “@” and 254 in all."),
                          /* Translators: the first %s is (the start of) an address, the second a field name */
                          _("The address “%s” in the “%s” field is too long."),
                          excerpt, dispatch_message_field_label (field));
      return FALSE;
    }

  /* The envelope puts the address between < and > on a command line, which the command
   * builder keeps free of spaces, angle brackets and controls. A quoted local part may hold
   * them ("john smith"@example.org) and is fine in a header, but would only fail at MAIL FROM
   * or RCPT TO, after connecting and signing in: refuse it here, before anything goes out. */
  if (!dispatch_smtp_path_is_valid (idn_addr, TRUE))
    {
      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("Use an address without spaces, angle brackets or control characters before the “@”."),
                          /* Translators: the first %s is an address, the second a field name */
                          _("The address “%s” in the “%s” field cannot be used to send mail."),
                          addr, dispatch_message_field_label (field));
      return FALSE;
    }

  if (!dispatch_message_is_ascii (addr, mailbox->at))
    {
      if (!allow_utf8_headers)
        {
          dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                              _("Use an address without accents or other special letters before the “@”, or a server that supports SMTPUTF8."),
                              /* Translators: the first %s is an address, the second a field name */
                              _("The address “%s” in the “%s” field needs a mail server with international address support, and this one has none."),
                              addr, dispatch_message_field_label (field));
          return FALSE;
        }
      *uses_utf8 = TRUE;
    }

  return TRUE;
}

static gboolean
check_address_list (MessageField          field,
                    InternetAddressList  *list,
                    gboolean              allow_utf8_headers,
                    gboolean             *uses_utf8,
                    GError              **error)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          InternetAddressList *members =
            internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address));
          const char *name = internet_address_get_name (address);

          if (name != NULL && strlen (name) > MAX_GROUP_NAME)
            {
              g_autofree char *excerpt = quote_excerpt (name);

              dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE,
                                  NULL, _("Shorten the group name before the “:”."),
                                  /* Translators: the first %s is (the start of) a group name, the second a field name */
                                  _("The group name “%s” in the “%s” field is too long."),
                                  excerpt, dispatch_message_field_label (field));
              return FALSE;
            }
          if (!check_address_list (field, members, allow_utf8_headers, uses_utf8, error))
            return FALSE;
        }
      else if (!check_mailbox (field, INTERNET_ADDRESS_MAILBOX (address), allow_utf8_headers,
                               uses_utf8, error))
        return FALSE;
    }

  return TRUE;
}

gboolean
dispatch_message_parse_address_field (MessageField          field,
                                      const char           *text,
                                      gboolean              allow_utf8_headers,
                                      InternetAddressList **out_list,
                                      gboolean             *uses_utf8,
                                      GError              **error)
{
  g_autoptr(InternetAddressList) list = NULL;
  g_autofree char *bad_item = NULL;

  *out_list = NULL;

  if (dispatch_message_is_blank (text))
    return TRUE;

  if (!dispatch_message_check_header_text (field, text, error))
    return FALSE;

  list = dispatch_message_parse_address_list (text, &bad_item);
  if (list == NULL || bad_item != NULL)
    {
      g_autofree char *excerpt = quote_excerpt (bad_item != NULL ? bad_item : text);

      dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_MESSAGE, NULL,
                          _("Write addresses like ann@example.org or Ann <ann@example.org>, separated by commas."),
                          /* Translators: the first %s is a field name, the second what the user typed */
                          _("The “%s” field contains something that is not an e-mail address: “%s”."),
                          dispatch_message_field_label (field), excerpt);
      return FALSE;
    }

  if (!check_address_list (field, list, allow_utf8_headers, uses_utf8, error))
    return FALSE;

  *out_list = g_steal_pointer (&list);

  return TRUE;
}

void
dispatch_message_collect_recipients (InternetAddressList *list,
                                     GHashTable          *seen,
                                     GPtrArray           *recipients)
{
  if (list == NULL)
    return;

  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          dispatch_message_collect_recipients (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)),
                              seen, recipients);
        }
      else
        {
          const char *addr = internet_address_mailbox_get_idn_addr (INTERNET_ADDRESS_MAILBOX (address));
          char *key = g_utf8_casefold (addr, -1);

          if (g_hash_table_add (seen, key))
            g_ptr_array_add (recipients, g_strdup (addr));
        }
    }
}

static guint
count_mailboxes (InternetAddressList *list)
{
  guint n = 0;

  for (int i = 0; list != NULL && i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_GROUP (address))
        n += count_mailboxes (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));
      else
        n++;
    }

  return n;
}

gboolean
dispatch_message_check_address_field (DispatchMessageAddressField   field,
                                      const char                   *text,
                                      guint                        *n_addresses,
                                      GError                      **error)
{
  static const MessageField fields[] = { FIELD_FROM, FIELD_TO, FIELD_CC, FIELD_BCC };
  g_autoptr(InternetAddressList) list = NULL;
  gboolean uses_utf8 = FALSE;

  g_return_val_if_fail ((guint) field < G_N_ELEMENTS (fields), FALSE);

  if (n_addresses != NULL)
    *n_addresses = 0;

  /* Whether the server takes international addresses is known only when sending. */
  if (!dispatch_message_parse_address_field (fields[field], text != NULL ? text : "", TRUE, &list, &uses_utf8, error))
    return FALSE;

  if (n_addresses != NULL)
    *n_addresses = count_mailboxes (list);

  return TRUE;
}
