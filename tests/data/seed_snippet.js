// The browser snippet of the original system (seed/stable-diffusion.md), unchanged except
// for the domain in `uri`, which the test points at the served page's own origin.
const uri = "https://d3ic6ryvcaoqdy.cloudfront.net/text2image";
const xhr = new XMLHttpRequest();

xhr.open("POST", uri, true);
xhr.onreadystatechange = () => {
    if (xhr.readyState === 4 && xhr.status === 200) {
        response = JSON.parse(xhr.responseText);
        console.log("response: " + response);
        result = JSON.parse(response.body);
        console.log("result: " + result);                    

        console.log("result1: " + JSON.stringify(result[0]));
        console.log("result2: " + JSON.stringify(result[1]));
        console.log("result3: " + JSON.stringify(result[2]));
        console.log("result4: " + JSON.stringify(result[3]));
    }
};

var requestObj = {"text":text}
console.log("request: " + JSON.stringify(requestObj));

var blob = new Blob([JSON.stringify(requestObj)], {type: 'application/json'});
xhr.send(blob); 
