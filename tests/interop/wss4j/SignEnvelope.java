/*
 * Signs a SOAP 1.1 envelope with Apache WSS4J 1.6 the way Apache CXF's WSS4JOutInterceptor does
 * for the actions "Timestamp Signature" with signatureKeyIdentifier=DirectReference, RSA-SHA256,
 * SHA-256 digests and signatureParts Timestamp and Body:
 *
 *   java -cp <wss4j, xmlsec and their jars>:. SignEnvelope dept.p12 PASSWORD < unsigned.xml > signed.xml
 *
 * The signed header, as WSS4J writes it (ids shortened):
 *
 *   <wsse:Security soap:mustUnderstand="1">
 *     <wsse:BinarySecurityToken EncodingType="...#Base64Binary" ValueType="...#X509v3" wsu:Id="X509-1">...
 *     <ds:Signature Id="SIG-3">
 *       <ds:SignedInfo>
 *         <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
 *           <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="soap"/>
 *         </ds:CanonicalizationMethod>
 *         <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
 *         <ds:Reference URI="#TS-1">
 *           <ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
 *             <ec:InclusiveNamespaces PrefixList="wsse soap"/></ds:Transform></ds:Transforms>
 *           <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>...
 *         <ds:Reference URI="#id-2">... the Body's, its transform's PrefixList="" ...
 *       <ds:SignatureValue>...
 *       <ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#X509-1" ValueType="...#X509v3"/>
 *     </ds:Signature>
 *     <wsu:Timestamp wsu:Id="TS-1"><wsu:Created>...</wsu:Created><wsu:Expires>...</wsu:Expires></wsu:Timestamp>
 *   </wsse:Security>
 *
 * The key and certificate come from a password-protected PKCS#12, as `govshare pki issue` hands
 * them to a department.  A failure is WSS4J's exception on stderr, exit status 1.
 */

import java.io.FileInputStream;
import java.io.InputStream;
import java.security.KeyStore;
import java.util.Arrays;
import java.util.Collections;
import java.util.Properties;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.xml.security.signature.XMLSignature;
import org.w3c.dom.Document;

public final class SignEnvelope {
    private static final String SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: SignEnvelope KEYSTORE.p12 PASSWORD < unsigned.xml > signed.xml");
            System.exit(2);
        }
        char[] password = args[1].toCharArray();
        KeyStore keystore = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(args[0])) {
            keystore.load(in, password);
        }
        String alias = Collections.list(keystore.aliases()).stream()
            .filter(a -> isKeyEntry(keystore, a)).findFirst()
            .orElseThrow(() -> new IllegalArgumentException(args[0] + " holds no private key"));
        Merlin crypto = new Merlin(new Properties());
        crypto.setKeyStore(keystore);

        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        Document envelope = factory.newDocumentBuilder().parse(System.in);

        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(envelope);

        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(envelope, header);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(alias, args[1]);
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.setSignatureAlgorithm(XMLSignature.ALGO_ID_SIGNATURE_RSA_SHA256);
        signature.setDigestAlgo(WSConstants.SHA256);
        signature.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        signature.setParts(Arrays.asList(
            new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, "Element"),
            new WSEncryptionPart("Body", SOAP11, "Element")));
        signature.build(envelope, crypto, header);

        TransformerFactory.newInstance().newTransformer()
            .transform(new DOMSource(envelope), new StreamResult(System.out));
    }

    private static boolean isKeyEntry(KeyStore keystore, String alias) {
        try {
            return keystore.isKeyEntry(alias);
        } catch (java.security.KeyStoreException e) {
            return false;
        }
    }
}
