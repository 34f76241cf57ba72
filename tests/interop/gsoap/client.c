/*
 * A department's C client of govshare, on gSOAP 2.8 and its WS-Security plugin (wsse).
 *
 * Built by tests/interop/test_signed_gsoap.py on the code wsdl2h and soapcpp2 generate from
 * /exchange?wsdl and /uddi/inquiry?wsdl (prefixes ex, exchange, uddi, uddibind; xsd:any as DOM;
 * wsse.h imported), see docs/interop/gsoap.md.
 *
 *   client [-k key.pem -c cert.pem] [-a ca.pem] BASE_URL REQUESTER RESOURCE_CODE RESOURCE_NAME KEY...
 *
 * calls find_service on BASE_URL/uddi/inquiry for RESOURCE_NAME, then QueryRecords for the KEYs and
 * GetChanges from watermark 0 on BASE_URL/exchange, and prints one line per fact:
 *
 *   serviceKey=uddi:...
 *   total=3
 *   more=false
 *   record=<Person xmlns="http://govshare.local/xsd/population/1.0">...</Person>
 *   change=upsert <Person ...>...</Person>
 *
 * With a key and its certificate the exchange calls are signed as the platform requires:
 *
 *   <wsse:Security SOAP-ENV:mustUnderstand="1">
 *     <wsu:Timestamp wsu:Id="Time">...</wsu:Timestamp>
 *     <wsse:BinarySecurityToken wsu:Id="X509Token" ValueType="...#X509v3" EncodingType="...#Base64Binary">MII...
 *     <ds:Signature> SignedInfo: exc-c14n, rsa-sha256, References #Body and #Time (exc-c14n, sha256)
 *                    KeyInfo: wsse:SecurityTokenReference/wsse:Reference URI="#X509Token" </ds:Signature>
 *   </wsse:Security>
 *   ...
 *   <SOAP-ENV:Body wsu:Id="Body">
 *
 * With the platform CA's certificate as well (-a), the client verifies the platform's answers to
 * its signed calls: the signature, a signed Body and Timestamp, the Timestamp not expired, and a
 * certificate that chains to the CA.
 *
 * A SOAP fault ends the run with exit status 2 after a line "fault=<faultcode> <faultstring>";
 * any other failure with status 1 and gSOAP's own report on stderr.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "soapH.h"
#include "wsseapi.h"
#include "ExchangeSoapBinding.nsmap"

/* seconds the signed Timestamp is valid: the platform refuses longer-lived ones */
#define TIMESTAMP_LIFETIME 300
#define SOAP_ENV_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define WSU_NS "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

struct wss {
  EVP_PKEY *key;
  X509 *cert;
  const char *ca_file; /* the platform CA: verify answers when set */
};

static int failed(struct soap *soap)
{
  if (soap->error == SOAP_FAULT || soap->error == SOAP_CLI_FAULT || soap->error == SOAP_SVR_FAULT
      || soap->error == SOAP_MUSTUNDERSTAND) {
    const char *string = soap_fault_string(soap);
    printf("fault=%s %s\n", *soap_faultcode(soap), string ? string : "");
    return 2;
  }
  soap_print_fault(soap, stderr);
  return 1;
}

static int load_key_and_certificate(struct wss *wss, const char *key_file, const char *cert_file)
{
  FILE *fd = fopen(key_file, "r");
  if (fd == NULL) {
    perror(key_file);
    return 1;
  }
  wss->key = PEM_read_PrivateKey(fd, NULL, NULL, NULL);
  fclose(fd);
  fd = fopen(cert_file, "r");
  if (fd == NULL) {
    perror(cert_file);
    return 1;
  }
  wss->cert = PEM_read_X509(fd, NULL, NULL, NULL);
  fclose(fd);
  if (wss->key == NULL || wss->cert == NULL) {
    fprintf(stderr, "cannot read the PEM key %s or certificate %s\n", key_file, cert_file);
    return 1;
  }
  return 0;
}

/* A fresh Security header for the next call: every message has its own Timestamp and signature. */
static int sign_next_call(struct soap *soap, const struct wss *wss)
{
  if (wss->key == NULL)
    return SOAP_OK;
  soap_wsse_delete_Security(soap);
  if (soap_wsse_add_Timestamp(soap, "Time", TIMESTAMP_LIFETIME)
      || soap_wsse_add_BinarySecurityTokenX509(soap, "X509Token", wss->cert)
      || soap_wsse_add_KeyInfo_SecurityTokenReferenceX509(soap, "#X509Token")
      || soap_wsse_sign_body(soap, SOAP_SMD_SIGN_RSA_SHA256, wss->key, 0)
      || soap_wsse_sign_only(soap, "Time Body"))
    return soap->error;
  return SOAP_OK;
}

/* Whether a ds:Reference of the answer's signature names the wsu:Id of its element ns:tag.
 * soap_wsse_verify_body cannot tell: its count of signed Bodies walks on from a signed element that
 * is the last child of its parent, and the platform's Timestamp closes its Security header, so the
 * Body counts twice there (and would count once from the Timestamp alone). */
static int referenced(struct soap *soap, const char *ns, const char *tag)
{
  ds__SignedInfoType *signed_info = soap_wsse_SignedInfo(soap);
  struct soap_dom_element *elt = soap_dom_find(soap->dom, soap->dom, ns, tag, 0);
  struct soap_dom_attribute *id = elt ? soap_att_find(elt, WSU_NS, "Id") : NULL;
  int i;
  if (signed_info == NULL || id == NULL || id->text == NULL)
    return 0;
  for (i = 0; i < signed_info->__sizeReference; i++) {
    const char *uri = signed_info->Reference[i]->URI;
    if (uri != NULL && uri[0] == '#' && strcmp(uri + 1, id->text) == 0)
      return 1;
  }
  return 0;
}

/* After a signed call answered (the platform signs its answers to signed requests, not its
 * faults): its signature, by a certificate that chains to the CA, over the Body and a Timestamp
 * that has not expired. */
static int verify_answer(struct soap *soap, const struct wss *wss)
{
  if (wss->key == NULL || wss->ca_file == NULL)
    return SOAP_OK;
  if (soap_wsse_verify_Signature(soap) || soap_wsse_verify_Timestamp(soap))
    return soap->error;
  if (!referenced(soap, SOAP_ENV_NS, "Body") || !referenced(soap, WSU_NS, "Timestamp"))
    return soap_wsse_sender_fault(soap, "the answer's signature does not cover its Body and Timestamp", NULL);
  return SOAP_OK;
}

/* A record (a DOM element under xsd:any) as XML on one line. */
static const char *xml_of(struct soap_dom_element *record)
{
  static struct soap *out;
  const char *xml = NULL;
  if (out == NULL)
    out = soap_new1(SOAP_C_UTFSTRING);
  out->os = &xml;
  if (soap_write_xsd__anyType(out, record))
    xml = "";
  out->os = NULL;
  return xml;
}

static int find_service(struct soap *soap, const char *endpoint, const char *resource_name)
{
  struct uddi__find_USCOREservice find;
  struct uddi__name name;
  struct uddi__serviceList found;
  int i;
  soap_default_uddi__find_USCOREservice(soap, &find);
  soap_default_uddi__name(soap, &name);
  name.__item = (char *)resource_name;
  find.__sizename = 1;
  find.name_ = &name;
  if (soap_call___uddibind__find_USCOREservice(soap, endpoint, NULL, &find, &found))
    return failed(soap);
  if (found.serviceInfos != NULL)
    for (i = 0; i < found.serviceInfos->__sizeserviceInfo; i++)
      printf("serviceKey=%s\n", found.serviceInfos->serviceInfo_[i].serviceKey);
  return 0;
}

static int query_records(struct soap *soap, const char *endpoint, const struct wss *wss,
                         const char *requester, const char *resource, char **keys, int count)
{
  struct _ex__QueryRecords query;
  struct _ex__QueryRecordsResponse answer;
  int i;
  soap_default__ex__QueryRecords(soap, &query);
  query.requester = (char *)requester;
  query.resourceCode = (char *)resource;
  query.__sizekey = count;
  query.key = keys;
  if (sign_next_call(soap, wss) || soap_call___exchange__QueryRecords(soap, endpoint, NULL, &query, &answer)
      || verify_answer(soap, wss))
    return failed(soap);
  printf("total=%d\nmore=%s\n", answer.total, answer.more == xsd__boolean__true_ ? "true" : "false");
  for (i = 0; i < answer.records->__size; i++)
    printf("record=%s\n", xml_of(&answer.records->__any[i]));
  return 0;
}

static int get_changes(struct soap *soap, const char *endpoint, const struct wss *wss,
                       const char *requester, const char *resource)
{
  struct _ex__GetChanges request;
  struct _ex__GetChangesResponse answer;
  LONG64 watermark = 0;
  int i, j;
  soap_default__ex__GetChanges(soap, &request);
  request.requester = (char *)requester;
  request.resourceCode = (char *)resource;
  request.watermark = &watermark;
  if (sign_next_call(soap, wss) || soap_call___exchange__GetChanges(soap, endpoint, NULL, &request, &answer)
      || verify_answer(soap, wss))
    return failed(soap);
  for (i = 0; i < answer.__sizechange; i++)
    for (j = 0; j < answer.change[i].record->__size; j++)
      printf("change=%s %s\n", soap__ex__Change_operation2s(soap, answer.change[i].operation),
             xml_of(&answer.change[i].record->__any[j]));
  return 0;
}

int main(int argc, char **argv)
{
  const char *key_file = NULL, *cert_file = NULL;
  struct wss wss = {NULL, NULL, NULL};
  char inquiry[1024], exchange[1024];
  struct soap *soap;
  int option, status;
  while ((option = getopt(argc, argv, "k:c:a:")) != -1) {
    if (option == 'k')
      key_file = optarg;
    else if (option == 'c')
      cert_file = optarg;
    else if (option == 'a')
      wss.ca_file = optarg;
    else
      return 1;
  }
  if (argc - optind < 4 || (key_file == NULL) != (cert_file == NULL)) {
    fprintf(stderr, "usage: %s [-k key.pem -c cert.pem] [-a ca.pem] BASE_URL REQUESTER RESOURCE_CODE RESOURCE_NAME KEY...\n",
            argv[0]);
    return 1;
  }
  if (key_file != NULL && load_key_and_certificate(&wss, key_file, cert_file))
    return 1;
  snprintf(inquiry, sizeof(inquiry), "%s/uddi/inquiry", argv[optind]);
  snprintf(exchange, sizeof(exchange), "%s/exchange", argv[optind]);

  /* exc-c14n for the signature; UTF-8 strings in and out (the resource's name is Chinese) */
  soap = soap_new1(SOAP_XML_CANONICAL | SOAP_C_UTFSTRING);
  soap_register_plugin(soap, soap_wsse);
  if (wss.ca_file != NULL) {
    soap->cafile = wss.ca_file;
    soap_wsse_verify_init(soap); /* keep each answer as a DOM, to verify it as it was received */
  }
  status = find_service(soap, inquiry, argv[optind + 3]);
  if (status == 0)
    status = query_records(soap, exchange, &wss, argv[optind + 1], argv[optind + 2], argv + optind + 4,
                           argc - optind - 4);
  if (status == 0)
    status = get_changes(soap, exchange, &wss, argv[optind + 1], argv[optind + 2]);
  soap_destroy(soap);
  soap_end(soap);
  soap_free(soap);
  return status;
}
