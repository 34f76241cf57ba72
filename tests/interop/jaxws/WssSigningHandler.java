/*
 * A JAX-WS SOAPHandler that signs each outgoing request with Apache WSS4J 1.6 (and Santuario),
 * as a department whose stack is the JAX-WS RI and not Apache CXF adds WS-Security by hand:
 *
 *   ExchangePortType port = new ExchangeService(wsdl).getExchangePort();
 *   ((BindingProvider) port).getBinding().setHandlerChain(
 *       List.of(WssSigningHandler.fromPkcs12(Paths.get("dept.p12"), password)));
 *
 * It hands the SOAPMessage's own DOM to WSS4J, which adds to the Header what
 * tests/interop/wss4j/SignEnvelope.java writes and the platform verifies:
 *
 *   <wsse:Security soap:mustUnderstand="1">
 *     <wsse:BinarySecurityToken ValueType="...#X509v3" wsu:Id="X509-...">the certificate</wsse:BinarySecurityToken>
 *     <ds:Signature>  RSA-SHA256, exclusive c14n, SHA-256 digests of the Timestamp and the Body,
 *       <ds:KeyInfo> a direct reference to the BinarySecurityToken
 *     <wsu:Timestamp wsu:Id="TS-..."><wsu:Created>...</wsu:Created><wsu:Expires>+5 min</wsu:Expires></wsu:Timestamp>
 *   </wsse:Security>
 *
 * It only signs: the platform's signature on the answers (a Security header without
 * mustUnderstand) is left unchecked, as the zeep stack of the interop suite leaves it.
 */

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Arrays;
import java.util.Collections;
import java.util.Properties;
import java.util.Set;

import javax.xml.namespace.QName;
import javax.xml.soap.SOAPConstants;
import javax.xml.soap.SOAPException;
import javax.xml.soap.SOAPMessage;
import javax.xml.ws.WebServiceException;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSecurityException;
import org.apache.ws.security.components.crypto.CredentialException;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.xml.security.signature.XMLSignature;
import org.w3c.dom.Document;

public final class WssSigningHandler implements SOAPHandler<SOAPMessageContext> {
    private static final int TIMESTAMP_SECONDS = 300;

    private final Merlin crypto;
    private final String alias;
    private final String password;

    private WssSigningHandler(Merlin crypto, String alias, String password) {
        this.crypto = crypto;
        this.alias = alias;
        this.password = password;
    }

    /** The handler signing with the one key (and its certificate) in a password-protected PKCS#12. */
    public static WssSigningHandler fromPkcs12(Path file, String password)
            throws IOException, GeneralSecurityException, CredentialException {
        KeyStore keystore = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            keystore.load(in, password.toCharArray());
        }
        for (String alias : Collections.list(keystore.aliases())) {
            if (keystore.isKeyEntry(alias)) {
                Merlin crypto = new Merlin(new Properties());
                crypto.setKeyStore(keystore);
                return new WssSigningHandler(crypto, alias, password);
            }
        }
        throw new GeneralSecurityException(file + " holds no private key");
    }

    @Override
    public Set<QName> getHeaders() {
        return Collections.emptySet();
    }

    @Override
    public boolean handleMessage(SOAPMessageContext context) {
        if (Boolean.TRUE.equals(context.get(MessageContext.MESSAGE_OUTBOUND_PROPERTY))) {
            try {
                sign(context.getMessage());
            } catch (SOAPException | WSSecurityException e) {
                throw new WebServiceException("WS-Security signing failed", e);
            }
        }
        return true;
    }

    private void sign(SOAPMessage message) throws SOAPException, WSSecurityException {
        // SAAJ 1.4 (saaj-impl, under JAX-WS RI 2.3) wraps a plain DOM: its SOAPPart makes wrapper
        // nodes but hands out the plain ones, and WSS4J mixing the two fails with WRONG_DOCUMENT_ERR.
        // WSS4J works on the plain document, which is the message's own content.
        Document envelope = message.getSOAPPart().getDocumentElement().getOwnerDocument();
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(envelope);

        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(TIMESTAMP_SECONDS);
        timestamp.build(envelope, header);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(alias, password);
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.setSignatureAlgorithm(XMLSignature.ALGO_ID_SIGNATURE_RSA_SHA256);
        signature.setDigestAlgo(WSConstants.SHA256);
        signature.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        signature.setParts(Arrays.asList(
            new WSEncryptionPart(WSConstants.TIMESTAMP_TOKEN_LN, WSConstants.WSU_NS, "Element"),
            new WSEncryptionPart(WSConstants.ELEM_BODY, SOAPConstants.URI_NS_SOAP_1_1_ENVELOPE, "Element")));
        signature.build(envelope, crypto, header);
        message.saveChanges();
    }

    @Override
    public boolean handleFault(SOAPMessageContext context) {
        return true;
    }

    @Override
    public void close(MessageContext context) {
    }
}
