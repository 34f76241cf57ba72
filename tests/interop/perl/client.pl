#!/usr/bin/perl
# A Perl department's client of the platform with SOAP::Lite, signing its exchange calls with
# WS-Security. SOAP::Lite reads no document/literal WSDL, so the calls are written as Perl
# departments write them: the schema's namespace as the default namespace of the body element,
# one SOAP::Data per element, no xsi:type, and the soapAction the WSDL names. It finds the
# resource's service on /uddi/inquiry, queries records by key and reads the changes since
# watermark 0 on /exchange, and prints what it got.
#
# Usage: perl client.pl JOB.json
#   JOB.json: {"url": "http://127.0.0.1:PORT", "requester": "<credit code>", "name": "<resource name>",
#              "resourceCode": "101001002/000001", "keys": ["330102..."],
#              "key": "/path/key.pem", "cert": "/path/cert.pem"}   (key and cert: sign; leave out: unsigned)
# Output: {"serviceKeys": ["uddi:..."], "query": {"total": 3, "more": false, "records": ["<Person .../>", ...]},
#          "changes": [{"operation": "upsert", "record": "<Person .../>"}, ...]}
# A SOAP fault ends the run with exit status 2, its faultcode on the first line of stderr and its
# faultstring on the second.
#
# Signing (GovShare::SigningSerializer) turns the envelope SOAP::Lite wrote into one whose Header
# carries what trust/wsse.py verifies, with XML::LibXML's exclusive C14N and Crypt::OpenSSL::RSA:
#   <wsse:Security soap:mustUnderstand="1">
#     <wsse:BinarySecurityToken wsu:Id="X509-…" ValueType="…#X509v3" EncodingType="…#Base64Binary">MII…
#     <wsu:Timestamp wsu:Id="TS-…"><wsu:Created>…Z</wsu:Created><wsu:Expires>…Z</wsu:Expires></wsu:Timestamp>
#     <ds:Signature> SignedInfo: exc-c14n, rsa-sha256; References #Body-… and #TS-… (exc-c14n, sha256);
#                    KeyInfo: wsse:SecurityTokenReference/wsse:Reference URI="#X509-…" </ds:Signature>
#   </wsse:Security>
# and the SOAP Body carries wsu:Id="Body-…".

use strict;
use warnings;

package GovShare::SigningSerializer;

use parent -norequire, 'SOAP::Serializer';
use Crypt::OpenSSL::RSA;
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64);
use POSIX qw(strftime);
use XML::LibXML;

use constant {
    WSSE_NS => 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
    WSU_NS => 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
    DS_NS => 'http://www.w3.org/2000/09/xmldsig#',
    X509V3 => 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3',
    BASE64 => 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary',
    EXC_C14N => 'http://www.w3.org/2001/10/xml-exc-c14n#',
    RSA_SHA256 => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    SHA256 => 'http://www.w3.org/2001/04/xmlenc#sha256',
    LIFETIME => 300,    # seconds a signed request is valid for (the platform takes at most 900)
};

# A serializer whose envelopes are signed with the PEM key and certificate given.
sub signing {
    my ($class, $key_pem, $cert_pem) = @_;
    my $self = SOAP::Serializer::new($class);
    my $key = Crypt::OpenSSL::RSA->new_private_key($key_pem);
    $key->use_sha256_hash;
    ($self->{govshare_token} = $cert_pem) =~ s/-----[^-]+-----|\s+//g;    # the certificate's DER, base64
    $self->{govshare_key} = $key;
    return $self;
}

sub envelope {
    my $self = shift;
    my $xml = $self->SUPER::envelope(@_);
    return $self->{govshare_key} ? $self->sign($xml) : $xml;
}

sub _element {
    my ($parent, $ns, $name, %attributes) = @_;
    my $text = delete $attributes{text};
    my $el = $parent->addNewChild($ns, $name);
    $el->setAttribute($_, $attributes{$_}) for sort keys %attributes;
    $el->appendText($text) if defined $text;
    return $el;
}

sub _c14n { encode_base64(sha256($_[0]->toStringEC14N(0)), '') }    # exclusive, without comments

sub sign {
    my ($self, $xml) = @_;
    my $doc = XML::LibXML->load_xml(string => $xml);
    my $envelope = $doc->documentElement;
    my ($soap, $prefix) = ($envelope->namespaceURI, $envelope->prefix);
    my ($body) = $envelope->getChildrenByTagNameNS($soap, 'Body');
    my ($header) = $envelope->getChildrenByTagNameNS($soap, 'Header');
    $header //= $envelope->insertBefore($doc->createElementNS($soap, "$prefix:Header"), $body);
    my $ids = unpack 'H*', pack 'N2', time, int rand 2**32;

    my $security = _element($header, WSSE_NS, 'wsse:Security');
    $security->setAttributeNS($soap, "$prefix:mustUnderstand", '1');
    my $token = _element($security, WSSE_NS, 'wsse:BinarySecurityToken', ValueType => X509V3, EncodingType => BASE64,
                         text => $self->{govshare_token});
    $token->setAttributeNS(WSU_NS, 'wsu:Id', "X509-$ids");
    my $timestamp = _element($security, WSU_NS, 'wsu:Timestamp');
    $timestamp->setAttributeNS(WSU_NS, 'wsu:Id', "TS-$ids");
    my $now = time;
    _element($timestamp, WSU_NS, 'wsu:Created', text => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $now));
    _element($timestamp, WSU_NS, 'wsu:Expires', text => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $now + LIFETIME));
    $body->setAttributeNS(WSU_NS, 'wsu:Id', "Body-$ids");

    my $signature = _element($security, DS_NS, 'ds:Signature');
    my $info = _element($signature, DS_NS, 'ds:SignedInfo');
    _element($info, DS_NS, 'ds:CanonicalizationMethod', Algorithm => EXC_C14N);
    _element($info, DS_NS, 'ds:SignatureMethod', Algorithm => RSA_SHA256);
    for ([$body, "Body-$ids"], [$timestamp, "TS-$ids"]) {
        my ($target, $id) = @$_;
        my $reference = _element($info, DS_NS, 'ds:Reference', URI => "#$id");
        _element(_element($reference, DS_NS, 'ds:Transforms'), DS_NS, 'ds:Transform', Algorithm => EXC_C14N);
        _element($reference, DS_NS, 'ds:DigestMethod', Algorithm => SHA256);
        _element($reference, DS_NS, 'ds:DigestValue', text => _c14n($target));
    }
    _element($signature, DS_NS, 'ds:SignatureValue',
             text => encode_base64($self->{govshare_key}->sign($info->toStringEC14N(0)), ''));
    my $reference = _element($signature, DS_NS, 'ds:KeyInfo');
    $reference = _element($reference, WSSE_NS, 'wsse:SecurityTokenReference');
    _element($reference, WSSE_NS, 'wsse:Reference', URI => "#X509-$ids", ValueType => X509V3);
    return $doc->toString;
}

package main;

use JSON::PP;
use SOAP::Lite;
use XML::LibXML;

use constant {
    EXCHANGE_NS => 'http://govshare.local/xsd/exchange/1.0',
    UDDI_NS => 'urn:uddi-org:api_v3',
};

sub slurp {
    my ($path) = @_;
    open my $in, '<:raw', $path or die "$path: $!\n";
    local $/;
    return <$in>;
}

# A SOAP::Lite client of a document/literal endpoint: answers come back as XML, to keep the
# records (xsd:any) as they were sent.
sub client {
    my ($url, $ns, $serializer) = @_;
    my $soap = SOAP::Lite->new(proxy => $url);
    $soap->serializer($serializer) if $serializer;
    $soap->default_ns($ns);
    $soap->autotype(0);
    $soap->outputxml(1);
    $soap->on_action(sub { qq{"$_[1]"} });    # the WSDL's soapAction: the operation's name
    return $soap;
}

# The answer's document, or the end of the run for a fault.
sub answer {
    my ($xml) = @_;
    my $som = SOAP::Deserializer->deserialize($xml);
    if ($som->fault) {
        print STDERR $som->faultcode, "\n", $som->faultstring, "\n";
        exit 2;
    }
    my $doc = XML::LibXML->load_xml(string => $xml);
    my $xpath = XML::LibXML::XPathContext->new($doc);
    $xpath->registerNs(ex => EXCHANGE_NS);
    $xpath->registerNs(uddi => UDDI_NS);
    return $xpath;
}

sub records { [map { $_->toString } $_[0]->findnodes('*', $_[1])] }

my $job = JSON::PP->new->utf8->decode(slurp($ARGV[0]));
my $url = $job->{url};

my $inquiry = client("$url/uddi/inquiry", UDDI_NS);
my $found = answer($inquiry->call('find_service', SOAP::Data->name(name => $job->{name})));
my @service_keys = map { $_->value } $found->findnodes('//uddi:serviceInfo/@serviceKey');

my $signer = $job->{key}
    ? GovShare::SigningSerializer->signing(slurp($job->{key}), slurp($job->{cert}))
    : undef;
my $exchange = client("$url/exchange", EXCHANGE_NS, $signer);
my @who = (SOAP::Data->name(requester => $job->{requester}), SOAP::Data->name(resourceCode => $job->{resourceCode}));
my $query = answer($exchange->call('QueryRecords', @who, map { SOAP::Data->name(key => $_) } @{ $job->{keys} }));
my ($records) = $query->findnodes('//ex:QueryRecordsResponse/ex:records');
my $changes = answer($exchange->call('GetChanges', @who, SOAP::Data->name(watermark => 0)));

print JSON::PP->new->utf8->canonical->encode({
    serviceKeys => \@service_keys,
    query => {
        total => 0 + $query->findvalue('//ex:QueryRecordsResponse/ex:total'),
        more => $query->findvalue('//ex:QueryRecordsResponse/ex:more') eq 'true' ? JSON::PP::true : JSON::PP::false,
        records => records($query, $records),
    },
    changes => [map { {operation => $changes->findvalue('ex:operation', $_),
                       record => records($changes, $changes->findnodes('ex:record', $_)->[0])->[0]} }
                $changes->findnodes('//ex:GetChangesResponse/ex:change')],
});
