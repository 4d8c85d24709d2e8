import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.commons.lang.StringEscapeUtils;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.runtime.RuntimeConstants;
import org.json.simple.JSONValue;
import org.json.simple.parser.ContainerFactory;
import org.json.simple.parser.JSONParser;
import org.json.simple.parser.ParseException;

/**
 * Renders API Gateway mapping templates in Apache Velocity 1.7, the engine API Gateway's VTL
 * comes from, with the variables API Gateway gives a template ("Variables for data
 * transformations for API Gateway" in the API Gateway developer guide): $input, $util,
 * $context and $stageVariables.
 *
 * One JVM renders many templates: each stdin line is a JSON case
 *   {"template": "...", "body": "...", "context": {...}, "stageVariables": {...},
 *    "params": {"path": {...}, "querystring": {...}, "header": {...}}}
 * and each answer is one stdout line
 *   {"output": "...", "status": 202 | null, "headers": {...}, "error": null | "..."}
 * where status and headers are what the template set in $context.responseOverride.
 */
@SuppressWarnings("deprecation") // json-simple 2's JSONParser keeps JSON's order; its Jsoner does not
public final class ApiGatewayVtl {

    /** JSON objects keep their order and JSON arrays are lists, as Java collections. */
    private static final ContainerFactory COLLECTIONS = new ContainerFactory() {
        @Override
        public Map<String, Object> createObjectContainer() {
            return new LinkedHashMap<String, Object>();
        }

        @Override
        public List<Object> creatArrayContainer() {
            return new ArrayList<Object>();
        }
    };

    static Object parse(String json) {
        try {
            return new JSONParser().parse(json, COLLECTIONS);
        } catch (ParseException e) {
            throw new IllegalArgumentException("not JSON: " + e, e);
        }
    }

    /** $util: the six functions API Gateway documents. */
    public static final class Util {
        /** Apache Commons Lang 2 StringEscapeUtils.escapeJavaScript, which API Gateway's doc
         *  describes: ' becomes \' (not valid JSON; templates undo it with replaceAll). */
        public String escapeJavaScript(String text) {
            return StringEscapeUtils.escapeJavaScript(text);
        }

        /** "Takes stringified JSON and returns an object representation of the result". */
        public Object parseJson(String json) {
            return parse(json);
        }

        public String urlEncode(String text) throws UnsupportedEncodingException {
            return URLEncoder.encode(text, "UTF-8");
        }

        public String urlDecode(String text) throws UnsupportedEncodingException {
            return URLDecoder.decode(text, "UTF-8");
        }

        public String base64Encode(String text) {
            return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
        }

        public String base64Decode(String text) {
            return new String(Base64.getDecoder().decode(text), StandardCharsets.UTF_8);
        }
    }

    /** $input: the request (or integration response) payload and the request parameters. */
    public static final class Input {
        private static final Pattern STEP = Pattern.compile("\\.([A-Za-z_$][\\w$-]*)|\\['([^']*)'\\]|\\[(\\d+)\\]");
        private final String body;
        private final Object parsed;
        private final Map<String, Object> params;

        Input(String body, Map<String, Object> params) {
            this.body = body;
            Object value;
            try {
                value = body.isEmpty() ? null : parse(body);
            } catch (IllegalArgumentException e) {
                value = null; // a body that is not JSON: $input.body still has it
            }
            this.parsed = value;
            this.params = params;
        }

        public String getBody() {
            return body;
        }

        /** "A JSONPath object representation": a String for a string, a Map or a List for an
         *  object or an array, a Long, Double or Boolean; null where the path finds nothing. */
        public Object path(String jsonPath) {
            return at(jsonPath);
        }

        /** The JSONPath's result "as a JSON string". A path that finds nothing gives ""
         *  (not documented; no template here relies on it). */
        public String json(String jsonPath) {
            Object value = at(jsonPath);
            return value == null ? "" : JSONValue.toJSONString(value);
        }

        /** All request parameters: {"path": {...}, "querystring": {...}, "header": {...}}. */
        public Map<String, Object> params() {
            return params;
        }

        /** One parameter, looked up in path, query string and headers, in that order. */
        public Object params(String name) {
            for (String where : new String[] {"path", "querystring", "header"}) {
                Object found = params.get(where);
                if (found instanceof Map && ((Map<?, ?>) found).containsKey(name)) {
                    return ((Map<?, ?>) found).get(name);
                }
            }
            return "";
        }

        /** The JSONPath subset templates use: $, .name, ['name'], [index]. */
        private Object at(String jsonPath) {
            if (!jsonPath.startsWith("$")) {
                throw new IllegalArgumentException("a JSONPath starts with $: " + jsonPath);
            }
            Object value = parsed;
            Matcher step = STEP.matcher(jsonPath);
            int end = 1;
            while (end < jsonPath.length()) {
                if (!step.find(end) || step.start() != end) {
                    throw new IllegalArgumentException("unsupported JSONPath: " + jsonPath);
                }
                end = step.end();
                if (step.group(3) != null) {
                    int index = Integer.parseInt(step.group(3));
                    value = value instanceof List && index < ((List<?>) value).size() ? ((List<?>) value).get(index) : null;
                } else {
                    String key = step.group(1) != null ? step.group(1) : step.group(2);
                    value = value instanceof Map ? ((Map<?, ?>) value).get(key) : null;
                }
            }
            return value;
        }
    }

    /** $context.responseOverride: "Overrides are final. An override may only be applied to each
     *  parameter once ... API Gateway returns a 5XX response" (API Gateway developer guide). */
    static final class Overrides extends LinkedHashMap<String, Object> {
        private static final long serialVersionUID = 1L;

        @Override
        public Object put(String key, Object value) {
            if (containsKey(key)) {
                throw new IllegalStateException("responseOverride." + key + " is set twice: API Gateway answers 5XX");
            }
            return super.put(key, value);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(Object value) {
        return value instanceof Map ? (Map<String, Object>) value : new LinkedHashMap<String, Object>();
    }

    static Map<String, Object> render(VelocityEngine engine, Map<String, Object> request) {
        Map<String, Object> context = object(request.get("context"));
        context.putIfAbsent("requestId", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");
        // A Map, so that #set($context.responseOverride.status = 202) works as on AWS.
        Map<String, Object> override = new Overrides();
        override.put("header", new Overrides());
        context.put("responseOverride", override);

        VelocityContext variables = new VelocityContext();
        variables.put("input", new Input(String.valueOf(request.getOrDefault("body", "")), object(request.get("params"))));
        variables.put("util", new Util());
        variables.put("context", context);
        variables.put("stageVariables", object(request.get("stageVariables")));

        Map<String, Object> answer = new LinkedHashMap<String, Object>();
        StringWriter output = new StringWriter();
        try {
            engine.evaluate(variables, output, "template", String.valueOf(request.get("template")));
            answer.put("output", output.toString());
            answer.put("error", null);
        } catch (RuntimeException e) { // a parse error, or a method the template called threw
            answer.put("output", null);
            answer.put("error", e.toString());
        }
        Object status = override.get("status");
        answer.put("status", status == null ? null : Integer.valueOf(Integer.parseInt(String.valueOf(status))));
        answer.put("headers", override.get("header"));
        return answer;
    }

    public static void main(String[] args) throws Exception {
        VelocityEngine engine = new VelocityEngine();
        // Velocity 1.7 logs to ./velocity.log by default.
        engine.setProperty(RuntimeConstants.RUNTIME_LOG_LOGSYSTEM_CLASS, "org.apache.velocity.runtime.log.NullLogChute");
        engine.init();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            out.println(JSONValue.toJSONString(render(engine, object(parse(line)))));
            out.flush();
        }
    }
}
